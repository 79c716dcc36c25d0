"""`parley users` and `parley tokens`, called in process."""

from __future__ import annotations

from ..support.cli import Result, run_cli

PASSWORD = "correct horse battery"


def test_users_and_tokens_from_the_command_line(database_url: str) -> None:
    def parley(*args: str, stdin: str = "") -> Result:
        return run_cli(args[0], "--database-url", database_url, *args[1:], stdin=stdin)

    assert (
        parley("users", "add", "frank", "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    )
    assert (
        parley("users", "add", "frank", "--password-stdin", stdin=PASSWORD + "\n").returncode == 1
    )
    assert parley("users", "add", "gina", "--password-stdin", stdin="short\n").returncode == 2
    assert parley("users", "list").stdout.split() == ["frank"]
    created = parley("tokens", "create", "frank", "ci")
    assert created.returncode == 0 and created.stdout.strip().splitlines()[-1].startswith("pk_")
    token_id = parley("tokens", "list", "frank").stdout.split()[0]
    assert parley("tokens", "revoke", "frank", token_id).returncode == 0
    assert parley("tokens", "list", "frank").stdout == ""
    new_password = "another long password\n"
    assert (
        parley("users", "set-password", "frank", "--password-stdin", stdin=new_password).returncode
        == 0
    )
    assert parley("users", "remove", "frank").returncode == 0
    assert parley("users", "list").stdout == ""
