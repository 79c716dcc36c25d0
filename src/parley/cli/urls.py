"""Database URLs as the CLI prints them."""

from __future__ import annotations


def redacted(url: str) -> str:
    """`url` with its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
