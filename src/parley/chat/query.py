"""What a user types in the search box, as terms; the terms as each database's query language.

The user's text is never handed to FTS5's or PostgreSQL's query parser: it is split into words
(runs of letters and digits, as both databases' tokenizers split them), and Parley writes the
query itself from those words. So `"`, `*`, `-`, `:`, `NEAR`, `OR` or unbalanced quotes are
plain text, and no input makes a query the database rejects.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 500
MAX_WORDS = 32
# A shorter prefix is matched as a whole word: "r*" stands for every word starting with r, and
# both databases would read and merge the lists of all of them (half a second for one typed
# letter at 200,000 messages).
MIN_PREFIX_CHARS = 3

_WORD = re.compile(r"[^\W_]+")
# A quoted phrase (the closing quote may be missing while typing), or a run of other text.
_CHUNK = re.compile(r'"([^"]*)"?|([^\s"]+)')


class BadQuery(ValueError):
    """A search the user must change: the message says how."""


@dataclass(frozen=True)
class Term:
    """Words that must appear one after another; `prefix`: the last one may go on."""

    words: tuple[str, ...]
    prefix: bool = False


def fold(word: str) -> str:
    """A word compared loosely, for highlighting: case folded, accents removed."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def parse(text: str) -> list[Term]:
    """The terms of a query: every term must match (AND).

    `"exact phrase"` is a phrase; `word*` is a prefix; so is the last word while the user is
    still typing it (no space after it), once it has `MIN_PREFIX_CHARS` characters. Other
    punctuation splits words: `foo-bar` is the phrase "foo bar", as the index saw it.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise BadQuery(f"The search is longer than {MAX_QUERY_CHARS} characters.")
    terms: list[Term] = []
    chunks = list(_CHUNK.finditer(text))
    still_typing = bool(text) and not text[-1].isspace() and not text.endswith('"')
    for index, chunk in enumerate(chunks):
        quoted, bare = chunk.group(1), chunk.group(2)
        # As typed: each database folds case (and SQLite accents) the way its index did.
        words = tuple(_WORD.findall(quoted if quoted is not None else bare))
        if not words:
            continue
        prefix = (
            bare is not None
            and (bare.endswith("*") or (index == len(chunks) - 1 and still_typing))
            and len(words[-1]) >= MIN_PREFIX_CHARS
        )
        terms.append(Term(words, prefix))
    count = sum(len(t.words) for t in terms)
    if count == 0:
        raise BadQuery("Type a word to search for.")
    if count > MAX_WORDS:
        raise BadQuery(f"The search has {count} words; at most {MAX_WORDS} are looked for.")
    return terms


def is_word(text: str) -> bool:
    """Whether `text` is one word as `parse` splits them (safe to quote in a query)."""
    return _WORD.fullmatch(text) is not None


def whole_words(terms: list[Term]) -> list[Term] | None:
    """The terms with their prefixes taken as whole words; None if there is no prefix."""
    if not any(t.prefix for t in terms):
        return None
    return [Term(t.words) for t in terms]


def fts5_match(
    terms: list[Term], column: str, completions: dict[Term, list[str]] | None = None
) -> str:
    """An FTS5 MATCH expression: every term in `column`. Words are letters and digits only, so
    quoting them is all the escaping needed. A prefix term found in `completions` stands for
    those words in its last place instead of every word it begins."""
    completions = completions or {}

    def one(term: Term) -> str:
        if term in completions:
            head = term.words[:-1]
            return (
                f"{column} : ("
                + " OR ".join('"' + " ".join((*head, word)) + '"' for word in completions[term])
                + ")"
            )
        return f'{column} : "{" ".join(term.words)}"' + (" *" if term.prefix else "")

    return " AND ".join(one(t) for t in terms)


def tsquery(terms: list[Term]) -> str:
    """A PostgreSQL `to_tsquery('simple', …)` text: `'a' & 'b':* & ('c' <-> 'd')`."""
    parts = []
    for term in terms:
        lexemes = [f"'{w}'" for w in term.words]
        if term.prefix:
            lexemes[-1] += ":*"
        parts.append(lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")")
    return " & ".join(parts)
