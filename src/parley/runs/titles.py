"""A conversation's title, written by its own model after the first reply.

One small request straight to the model (`pydantic_ai.direct.model_request`): not through the
agent, whose tools and instructions have nothing to do with naming a conversation. Its output
is capped at a few tokens, and whatever it answers is cut down to one clean line.
"""

from __future__ import annotations

import asyncio

from pydantic_ai.direct import model_request
from pydantic_ai.messages import ModelRequest, TextPart, UserPromptPart
from pydantic_ai.models import Model

from ..agents.local.model import LocalSettings
from ..chat.text import clean_text

MAX_TITLE_TOKENS = 20
MAX_TITLE_CHARS = 80
# What the model reads of the conversation: its opening question is what names it.
_PROMPT_CHARS = 1_000
_TIMEOUT_SECONDS = 60.0

# Worded and shaped ("Question: … Title:") so that even the bundled 135M-parameter model
# answers with a headline rather than an answer: chosen against several wordings.
INSTRUCTIONS = "You name conversations with a short title, like a headline of 2 to 5 words."


async def write_title(model: Model | str | None, prompt: str) -> str | None:
    """A title for a conversation that opened with `prompt`; None if the model gave nothing
    usable. Raises what the model raised."""
    if model is None:
        return None
    request = ModelRequest(
        parts=[UserPromptPart(f"Question: {prompt[:_PROMPT_CHARS]}\nTitle:")],
        instructions=INSTRUCTIONS,
    )
    # A model on this machine gives way to replies (local_background): it runs one thing at
    # a time, and the user's next answer matters more than the title.
    settings = LocalSettings(max_tokens=MAX_TITLE_TOKENS, temperature=0.2, local_background=True)
    response = await asyncio.wait_for(
        model_request(model, [request], model_settings=settings), _TIMEOUT_SECONDS
    )
    text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
    return tidy(text)


def tidy(text: str) -> str | None:
    """The first non-empty line, without quotes, markdown or a trailing full stop."""
    for line in clean_text(text).splitlines():
        line = line.strip().strip("#*_`\"'“”‘’ ").removeprefix("Title:").strip()
        line = line.rstrip(".").strip()
        if line:
            return line if len(line) <= MAX_TITLE_CHARS else line[: MAX_TITLE_CHARS - 1] + "…"
    return None
