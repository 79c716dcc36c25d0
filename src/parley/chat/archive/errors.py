"""What a converter of another app's export says about a conversation it cannot import."""

from __future__ import annotations


class NotConvertible(ValueError):
    """One conversation of a ChatGPT or Claude export that cannot become Parley's.

    Its message is a sentence a user can read ("Its mapping is missing."): an import lists it
    next to the conversation's title and goes on with the others.
    """
