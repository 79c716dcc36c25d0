"""What text Parley accepts from people, and how it cleans text it cannot refuse.

One rule everywhere (prompts, titles, names of users and tokens): text must be valid Unicode
that every database stores the same. So no lone surrogates (they cannot be encoded as UTF-8)
and no NUL (PostgreSQL's text type cannot hold it, SQLite can: the same request must not work
on one database and fail on the other). Input breaking the rule is refused with a 422; text from
a model provider or a tool, which cannot be refused after the fact, is cleaned instead.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def check_text(value: str) -> str:
    """`value` if Parley accepts it, else a ValueError that says why (a 422 in the API)."""
    found = _FORBIDDEN.search(value)
    if found is None:
        return value
    if found.group() == "\x00":
        raise ValueError("text may not contain NUL characters")
    raise ValueError("text must be valid Unicode (it contains a lone surrogate)")


def clean_text(value: str) -> str:
    """`value` with NUL characters removed and surrogates made valid: a pair that arrived as
    two halves (a provider splitting an emoji across stream chunks) is joined back into its
    character, a lone half becomes U+FFFD."""
    if _FORBIDDEN.search(value) is None:
        return value
    value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value.replace("\x00", "")


def clean_json(value: Any) -> Any:
    """A JSON-like structure with every string in it (keys included) cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_json(v) for k, v in value.items()}
    return value


# A string field of a request body that follows the rule.
Text = Annotated[str, AfterValidator(check_text)]
