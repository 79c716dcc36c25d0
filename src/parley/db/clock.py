"""Time as Parley stores it: aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Parley writes is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
