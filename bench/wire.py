"""Reading a recorded SSE response body back into frames, to count what a reply costs on the
wire."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.client import sse_blocks


@dataclass(frozen=True)
class Frame:
    event: str
    id: int | None
    data: Any
    size: int  # bytes on the wire, the blank line that ends the frame included


def parse(body: bytes) -> list[Frame]:
    return [
        Frame(frame.event, frame.id, frame.data, len(block.encode()) + 2)
        for block, frame in sse_blocks(body.decode())
    ]


@dataclass(frozen=True)
class Wire:
    """One send's response body, checked against the reply it carried."""

    label: str
    body: int
    frames: list[Frame]

    @classmethod
    def of(cls, label: str, body: bytes, reply: str) -> Wire:
        frames = parse(body)
        text = "".join(f.data["d"] for f in frames if f.event == "text")
        if text != reply:
            raise RuntimeError(f"{label}: the text deltas do not add up to the reply")
        return cls(label, len(body), frames)

    @property
    def events(self) -> int:
        return max((f.id for f in self.frames if f.id is not None), default=-1) + 1

    @property
    def html(self) -> str:
        return "".join(f.data["html"] for f in self.frames if f.event == "block")
