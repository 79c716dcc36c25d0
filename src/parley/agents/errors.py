"""The one error of choosing an agent or a model."""

from __future__ import annotations


class AgentConfigError(Exception):
    """The configured model or agent cannot be used; the message is one line for the user."""
