"""`parley users` and `parley tokens`: the accounts of accounts mode, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TYPE_CHECKING

from ..chat.text import check_text
from ..settings import Settings

if TYPE_CHECKING:
    from ..accounts.store import Accounts


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = commands.add_parser("users", help="manage the users of accounts mode")
    users.add_argument("--database-url", help="SQLAlchemy async database URL")
    user_commands = users.add_subparsers(dest="action", required=True)
    for action, text in (("add", "add a user"), ("set-password", "set a user's password")):
        sub = user_commands.add_parser(action, help=text)
        sub.add_argument("name")
        sub.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
    user_commands.add_parser("list", help="list the users")
    user_commands.add_parser("remove", help="remove a user and everything of theirs").add_argument(
        "name"
    )
    users.set_defaults(handler=run_admin)

    tokens = commands.add_parser("tokens", help="manage a user's API tokens")
    tokens.add_argument("--database-url", help="SQLAlchemy async database URL")
    token_commands = tokens.add_subparsers(dest="action", required=True)
    create = token_commands.add_parser("create", help="create a token; prints it once")
    create.add_argument("user")
    create.add_argument("name")
    token_commands.add_parser("list", help="list a user's tokens").add_argument("user")
    revoke = token_commands.add_parser("revoke", help="revoke a token")
    revoke.add_argument("user")
    revoke.add_argument("token_id")
    tokens.set_defaults(handler=run_admin)


def run_admin(settings: Settings, args: argparse.Namespace) -> int:
    for name in ("name", "user"):
        try:
            check_text(getattr(args, name, None) or "")
        except ValueError as exc:
            print(f"parley: {name}: {exc}", file=sys.stderr)
            return 2
    return asyncio.run(_run(settings, args))


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from ..accounts.passwords import Passwords
    from ..accounts.store import Accounts
    from ..db.engine import create_engine
    from ..db.migrate import upgrade

    engine = create_engine(settings.database_url)
    passwords = Passwords(
        time_cost=settings.password_time_cost, memory_cost=settings.password_memory_kib
    )
    try:
        await upgrade(engine)
        accounts = Accounts(engine, passwords)
        if args.command == "users":
            return await _users(accounts, args)
        return await _tokens(accounts, args)
    finally:
        passwords.close()
        await engine.dispose()


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("parley: the passwords differ", file=sys.stderr)
            return None
    if len(password) < 8:
        print("parley: a password needs at least 8 characters", file=sys.stderr)
        return None
    return password


async def _users(accounts: Accounts, args: argparse.Namespace) -> int:
    if args.action == "list":
        for user in await accounts.list_users():
            print(user.name)
        return 0
    if args.action == "remove":
        if not await accounts.remove_user(args.name):
            print(f"parley: no user {args.name!r}", file=sys.stderr)
            return 1
        print(f"removed {args.name} and everything of theirs")
        return 0
    from ..accounts.store import NameTaken

    password = _password(args)
    if password is None:
        return 2
    if args.action == "add":
        try:
            await accounts.add_user(args.name, password)
        except NameTaken:
            print(f"parley: there is already a user {args.name!r}", file=sys.stderr)
            return 1
        print(f"added {args.name}")
        return 0
    if not await accounts.set_password(args.name, password):
        print(f"parley: no user {args.name!r}", file=sys.stderr)
        return 1
    print(f"password set for {args.name}; their sessions are logged out")
    return 0


async def _tokens(accounts: Accounts, args: argparse.Namespace) -> int:
    user = await accounts.user_named(args.user)
    if user is None:
        print(f"parley: no user {args.user!r}", file=sys.stderr)
        return 1
    if args.action == "create":
        token, secret = await accounts.create_token(user, args.name)
        print(f"token {token.id} ({token.name}); shown this once:\n{secret}")
        return 0
    if args.action == "list":
        for token in await accounts.list_tokens(user.id):
            used = token.last_used_at.isoformat() if token.last_used_at else "never used"
            print(f"{token.id}  {token.name}  created {token.created_at.isoformat()}  {used}")
        return 0
    if not await accounts.revoke_token(user.id, args.token_id):
        print(f"parley: {args.user} has no token {args.token_id}", file=sys.stderr)
        return 1
    print(f"revoked {args.token_id}")
    return 0
