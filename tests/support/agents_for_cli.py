"""Agents for `parley serve --agent tests.support.agents_for_cli:<name>` in end-to-end tests.

Nothing from outside tests.support (no network, no test module): a real server process
imports this file.
"""

from __future__ import annotations

from pydantic_ai import Agent

from .models import approval_agent, tool_agent, words_agent

# Calls its `temperature` tool, then answers.
weather_agent: Agent[None, str] = tool_agent(thinking=False, model_name="weather")

# A long reply, a word every 50 ms: time enough to kill the server in the middle of it.
SLOW_WORDS = 80
slow_agent: Agent[None, str] = words_agent(SLOW_WORDS, 0.05, model_name="slow")


def slow_reply() -> str:
    return "".join(f"word{i} " for i in range(SLOW_WORDS))


# A reply that takes a minute, a word every 100 ms: it is still generating at the end of
# any test that does not stop it, and a test that sees it end in seconds saw it stopped.
LONG_WORDS = 600
long_agent: Agent[None, str] = words_agent(LONG_WORDS, 0.1, model_name="long")

# Asks for the user's approval before running its `delete_file` tool.
approving_agent: Agent[None, str] = approval_agent()
