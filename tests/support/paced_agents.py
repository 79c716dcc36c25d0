"""Agents that answer like a fast model over the network, for `parley serve --agent
tests.support.paced_agents:<name>` in the benchmarks (bench/scale.py, bench/history.py).

Self-contained (no network, nothing from the rest of the benchmark): a real server process
imports this file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

CHUNK = 4
# Seconds between chunks: about 0.3 s a reply when the server is idle, like a fast model
# streaming over the network. The sleep leaves the event loop free, so the load measures
# Parley's concurrency, not CPU spent in a fake model.
PACE = 0.002
MODEL_NAME = "paced"

# A short assistant answer, about 600 characters: a paragraph, a list with inline code, a
# small fenced block, so block rendering and highlighting do some work on every reply.
REPLY = """\
Retrying a flaky call is worth it only when the failure is **transient**: a timeout, a \
connection reset, a 503. Anything else fails the same way the second time.

- Back off exponentially, with jitter, so clients do not retry in lockstep.
- Cap the attempts and the total time; give up with the last error.
- Retry only idempotent requests, or send an `Idempotency-Key`.

```python
for attempt in range(5):
    try:
        return await call()
    except TransientError:
        await asyncio.sleep(min(30, 2**attempt) * random.random())
raise GiveUp()
```
"""


def answer_number(messages: list[ModelMessage]) -> int:
    """How many user prompts the model was sent: the history's and this turn's."""
    return sum(
        isinstance(part, UserPromptPart)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
    )


def reply_text(number: int) -> str:
    """The whole reply to the `number`th prompt of a conversation."""
    # The closing line names how many prompts the model saw, so the load generator can check
    # that each turn got its conversation's whole history, whichever process served the
    # earlier turns.
    return f"{REPLY}\nThis is answer {number} of this conversation."


async def _paced(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
    text = reply_text(answer_number(messages))
    for i in range(0, len(text), CHUNK):
        await asyncio.sleep(PACE)
        yield text[i : i + CHUNK]


paced_agent: Agent[None, str] = Agent(FunctionModel(stream_function=_paced, model_name=MODEL_NAME))


async def _unpaced(messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
    text = reply_text(answer_number(messages))
    for i in range(0, len(text), CHUNK):
        yield text[i : i + CHUNK]


# The same replies with no pause: for filling a conversation quickly.
quick_agent: Agent[None, str] = Agent(
    FunctionModel(stream_function=_unpaced, model_name=MODEL_NAME)
)
