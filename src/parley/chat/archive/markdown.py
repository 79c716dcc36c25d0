"""A conversation as a Markdown document."""

from __future__ import annotations

from ..models import Conversation, Message, TextPart, ThinkingPart, ToolCallPart, ToolResultPart


def to_markdown(conversation: Conversation, messages: list[Message]) -> str:
    lines = [f"# {conversation.title}", ""]
    for message in messages:
        who = "You" if message.role == "user" else f"Assistant ({message.model or 'model'})"
        status = "" if message.status == "complete" else f" — {message.status}"
        lines += [f"## {who}{status}", f"*{message.created_at.isoformat()}*", ""]
        for part in message.parts:
            if isinstance(part, TextPart):
                lines += [part.text, ""]
            elif isinstance(part, ThinkingPart):
                lines += ["> **Thinking:** " + part.text.replace("\n", "\n> "), ""]
            elif isinstance(part, ToolCallPart):
                lines += [f"**Tool call** `{part.tool_name}`", "```json", part.args, "```", ""]
            elif isinstance(part, ToolResultPart):
                lines += [f"**Tool result** `{part.tool_name}`", "```", part.content, "```", ""]
        if message.error:
            lines += [f"> Error: {message.error}", ""]
    return "\n".join(lines).rstrip() + "\n"
