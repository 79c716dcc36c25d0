"""Users, passwords, login sessions and API tokens, in the database.

Passwords are hashed with argon2id (accounts.passwords, off the event loop). Session ids and
API tokens are random 256-bit secrets handed to the client once; only their SHA-256 is stored,
so reading the database does not log anyone in, and a lookup is one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..db.clock import as_utc, now
from ..db.engine import write
from ..db.erase import erase_owner
from ..db.ids import new_id
from ..db.tables import api_tokens, sessions, users
from .passwords import Passwords


@dataclass(frozen=True)
class User:
    id: str
    name: str


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


class NameTaken(Exception):
    pass


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Accounts:
    def __init__(self, engine: AsyncEngine, passwords: Passwords) -> None:
        self.engine = engine
        self.passwords = passwords

    # -- users ---------------------------------------------------------------------------

    async def add_user(self, name: str, password: str | None) -> User:
        user = User(new_id(), name)
        password_hash = await self.passwords.hash(password) if password is not None else None
        try:
            async with write(self.engine) as conn:
                await conn.execute(
                    users.insert().values(
                        id=user.id, name=name, password_hash=password_hash, created_at=now()
                    )
                )
        except IntegrityError as exc:
            raise NameTaken(name) from exc
        return user

    async def list_users(self) -> list[User]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(users.c.id, users.c.name).order_by(users.c.name))
        return [User(i, n) for i, n in rows]

    async def user_named(self, name: str) -> User | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(users.c.id, users.c.name).where(users.c.name == name))
            ).first()
        return User(row[0], row[1]) if row else None

    async def remove_user(self, name: str) -> bool:
        """Remove the user and everything of theirs (conversations, messages, runs, sessions,
        tokens), in one transaction."""
        async with write(self.engine) as conn:
            user_id = await conn.scalar(sa.select(users.c.id).where(users.c.name == name))
            if user_id is None:
                return False
            await erase_owner(conn, user_id)
            await conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
            await conn.execute(api_tokens.delete().where(api_tokens.c.user_id == user_id))
            await conn.execute(users.delete().where(users.c.id == user_id))
        return True

    async def set_password(self, name: str, password: str) -> bool:
        password_hash = await self.passwords.hash(password)
        async with write(self.engine) as conn:
            result = await conn.execute(
                users.update().where(users.c.name == name).values(password_hash=password_hash)
            )
            # A new password ends every session of the old one.
            found = await conn.scalar(sa.select(users.c.id).where(users.c.name == name))
            if found is not None:
                await conn.execute(sessions.delete().where(sessions.c.user_id == found))
        return bool(result.rowcount)

    async def check_password(self, name: str, password: str) -> User | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(users.c.id, users.c.name, users.c.password_hash).where(
                        users.c.name == name
                    )
                )
            ).first()
        stored = row[2] if row and row[2] else None
        if not await self.passwords.verify(stored, password):
            return None
        return User(row[0], row[1]) if row and row[2] else None

    # -- sessions ------------------------------------------------------------------------

    async def start_session(self, user: User, days: int) -> str:
        """A new session id for `user`. Always new: a login never reuses an id it was given."""
        session_id = secrets.token_urlsafe(32)
        stamp = now()
        async with write(self.engine) as conn:
            await conn.execute(
                sessions.insert().values(
                    token_hash=_digest(session_id),
                    user_id=user.id,
                    created_at=stamp,
                    expires_at=stamp + timedelta(days=days),
                )
            )
        return session_id

    async def session_user(self, session_id: str) -> User | None:
        query = (
            sa.select(users.c.id, users.c.name, sessions.c.expires_at)
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(sessions.c.token_hash == _digest(session_id))
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return User(row[0], row[1]) if as_utc(row[2]) > now() else None

    async def end_session(self, session_id: str) -> None:
        async with write(self.engine) as conn:
            await conn.execute(
                sessions.delete().where(sessions.c.token_hash == _digest(session_id))
            )

    # -- API tokens ----------------------------------------------------------------------

    async def create_token(self, user: User, name: str) -> tuple[Token, str]:
        secret = "pk_" + secrets.token_urlsafe(32)
        token = Token(new_id(), name, now(), None)
        async with write(self.engine) as conn:
            await conn.execute(
                api_tokens.insert().values(
                    id=token.id,
                    user_id=user.id,
                    name=name,
                    token_hash=_digest(secret),
                    created_at=token.created_at,
                )
            )
        return token, secret

    async def list_tokens(self, user_id: str) -> list[Token]:
        c = api_tokens.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(c.id, c.name, c.created_at, c.last_used_at)
                .where(c.user_id == user_id)
                .order_by(c.created_at)
            )
        return [
            Token(i, n, as_utc(created), as_utc(used) if used else None)
            for i, n, created, used in rows
        ]

    async def revoke_token(self, user_id: str, token_id: str) -> bool:
        async with write(self.engine) as conn:
            result = await conn.execute(
                api_tokens.delete().where(
                    api_tokens.c.id == token_id, api_tokens.c.user_id == user_id
                )
            )
        return bool(result.rowcount)

    async def token_user(self, secret: str) -> User | None:
        query = (
            sa.select(users.c.id, users.c.name, api_tokens.c.id)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == _digest(secret))
        )
        async with write(self.engine) as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            await conn.execute(
                api_tokens.update().where(api_tokens.c.id == row[2]).values(last_used_at=now())
            )
        return User(row[0], row[1])
