"""What the benchmark feeds Parley: a fixed markdown reply, the model that streams it, and
conversation histories made of realistic Pydantic AI messages."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

CHUNK = 4
MODEL_NAME = "bench"

# A typical assistant answer: two paragraphs, a list, a fenced code block and a closing line,
# about 1,500 characters, so block rendering and syntax highlighting both do real work.
REPLY = """\
Streaming an upload straight to object storage keeps memory flat no matter how large the \
file is. Instead of reading the whole request body and then handing it to the client \
library, you read it in fixed-size pieces and forward each piece as one part of a \
**multipart upload**, so only one part is ever held in memory.

There are a few things to get right:

- Pick a part size of at least *5 MiB*: the storage API rejects smaller parts, except the last.
- Keep the `UploadId` and the list of part numbers with their `ETag`s; you need them to finish.
- Compute a checksum per part when the bucket requires one, see the [docs](https://example.com/s3).

Here is a minimal version with `aioboto3`:

```python
async def upload(stream, bucket: str, key: str, part_size: int = 8 * 1024 * 1024) -> None:
    async with session.client("s3") as s3:
        upload = await s3.create_multipart_upload(Bucket=bucket, Key=key)
        parts, number = [], 1
        try:
            async for chunk in chunked(stream, part_size):
                result = await s3.upload_part(
                    Bucket=bucket, Key=key, PartNumber=number,
                    UploadId=upload["UploadId"], Body=chunk,
                )
                parts.append({"PartNumber": number, "ETag": result["ETag"]})
                number += 1
        except BaseException:
            await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
            raise
```

Finish with `complete_multipart_upload` and the collected `parts`: the object appears \
atomically."""


def prompt(i: int) -> str:
    return (
        f"Question {i}: how do I stream a large file upload to S3 in chunks, "
        "without loading the whole file into memory?"
    )


@dataclasses.dataclass
class FixedReply:
    """Streams REPLY in CHUNK-character pieces; `pace` seconds of sleep between pieces."""

    pace: float = 0.0

    async def stream(self, _messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        pace = self.pace
        for i in range(0, len(REPLY), CHUNK):
            if pace:
                await asyncio.sleep(pace)
            yield REPLY[i : i + CHUNK]

    def agent(self) -> Agent[None, str]:
        return Agent(FunctionModel(stream_function=self.stream, model_name=MODEL_NAME))


async def template_turn() -> tuple[ModelRequest, ModelResponse]:
    """One real turn of the benchmark agent, so stored history has every field a run sets."""
    async with FixedReply().agent().run_stream_events(prompt(0)) as stream:
        async for _ in stream:
            pass
        request, response = stream.new_messages()
    assert isinstance(request, ModelRequest)
    assert isinstance(response, ModelResponse)
    return request, response


def history(
    template: tuple[ModelRequest, ModelResponse], turns: int
) -> list[tuple[ModelRequest, ModelResponse]]:
    """`turns` request/response pairs like the template, each with its own prompt and run id."""
    request, response = template
    pairs: list[tuple[ModelRequest, ModelResponse]] = []
    for i in range(1, turns + 1):
        run_id = str(uuid.uuid4())
        parts: list[Any] = [
            dataclasses.replace(p, content=prompt(i)) if isinstance(p, UserPromptPart) else p
            for p in request.parts
        ]
        pairs.append(
            (
                dataclasses.replace(request, parts=parts, run_id=run_id),
                dataclasses.replace(
                    response,
                    parts=[
                        dataclasses.replace(p, content=REPLY) if isinstance(p, TextPart) else p
                        for p in response.parts
                    ],
                    run_id=run_id,
                ),
            )
        )
    return pairs


def flatten(pairs: list[tuple[ModelRequest, ModelResponse]]) -> list[ModelMessage]:
    return [m for pair in pairs for m in pair]
