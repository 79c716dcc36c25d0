"""Files for tests and benchmarks of attachments: real PNGs and PDFs made here, uploading
one, sending a prompt with files, and a FunctionModel that records the files it received."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic_ai import Agent
from pydantic_ai.messages import BinaryContent, ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.profiles import ModelProfile

from .client import Client, Frame, parse_sse

UPLOAD_HEADERS = {"X-Parley-Upload": "1"}


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A real, decodable PNG of one colour."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def big_png(size: int) -> bytes:
    """A PNG of about `size` bytes that does not compress (noise), as a photo would not."""
    width = 512
    rows = max(1, size // (width * 3))
    raw = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(rows))
    header = struct.pack(">IIBBBBB", width, rows, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


def pdf(text: str) -> bytes:
    """A one-page PDF showing `text` (ASCII) in Helvetica, with a correct cross-reference
    table, so pypdf reads its text back."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def upload(
    client: Client,
    name: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    headers: dict[str, str] | None = None,
) -> Any:
    """POST /api/files as Parley's page does (multipart, the upload header)."""
    return client.post(
        "/api/files",
        files={"file": (name, data, content_type)},
        headers={**UPLOAD_HEADERS, **(headers or {})},
    )


def uploaded(client: Client, name: str, data: bytes) -> str:
    response = upload(client, name, data)
    assert response.status_code == 201, response.text
    file_id: str = response.json()["id"]
    return file_id


def send_files(
    client: Client, conversation_id: str, prompt: str, files: Sequence[str]
) -> list[Frame]:
    with client.stream(
        "POST",
        f"/api/conversations/{conversation_id}/messages",
        json={"prompt": prompt, "files": list(files)},
    ) as response:
        assert response.status_code == 200, response.read()
        return parse_sse(response.read().decode())


def binaries(messages: Sequence[ModelMessage]) -> list[BinaryContent]:
    """Every BinaryContent of the user prompts in a history, in order."""
    return [
        item
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, UserPromptPart) and not isinstance(p.content, str)
        for item in p.content
        if isinstance(item, BinaryContent)
    ]


def prompt_items(messages: Sequence[ModelMessage]) -> list[Any]:
    """The content items of the last user prompt in a history."""
    for m in reversed(messages):
        if isinstance(m, ModelRequest):
            for p in m.parts:
                if isinstance(p, UserPromptPart):
                    return [p.content] if isinstance(p.content, str) else list(p.content)
    return []


@dataclass
class Recorder:
    """A model that answers "Seen." and records every history it was sent."""

    calls: list[list[ModelMessage]] = field(default_factory=list)

    async def stream(self, messages: list[ModelMessage], _info: AgentInfo) -> AsyncIterator[str]:
        self.calls.append(list(messages))
        yield "Seen."

    def model(self, name: str = "recorder", **profile: Any) -> FunctionModel:
        """`profile`: what the model takes, e.g. supports_document_input=False."""
        given = cast(ModelProfile, profile) if profile else None
        return FunctionModel(stream_function=self.stream, model_name=name, profile=given)

    def agent(self, **profile: Any) -> Agent[None, str]:
        return Agent(self.model(**profile))
