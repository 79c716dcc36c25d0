"""Identifiers users see: random, so one id says nothing about any other."""

from __future__ import annotations

import secrets


def new_id() -> str:
    # 128 bits from the OS CSPRNG; URL-safe, 22 characters.
    return secrets.token_urlsafe(16)
