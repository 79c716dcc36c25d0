"""Tool calls the user approves: what a paused reply waits on, and the user's answers.

A reply whose agent asks before running a tool (a tool with `requires_approval=True`, one that
raises `ApprovalRequired`, an MCP tool under its approval policy) ends its run with Pydantic
AI's `DeferredToolRequests`: the message is saved as `awaiting_approval`, and each such tool call
part carries an `Approval` (pending, with the tool's JSON schema). Nothing waits in memory: the
answer may come after a reload, a restart, or through another process. Answering records each
decision on its part (who, when, the reason or the edited arguments) in the transaction that
starts the run resuming the reply (`Store.resume_turn`), and becomes Pydantic AI's
`DeferredToolResults` for that run. A new prompt instead closes the calls as not run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
from pydantic import BaseModel, Field
from pydantic_ai import DeferredToolResults, ToolApproved, ToolDenied
from pydantic_ai.messages import ModelMessage, ToolReturnPart, repair_messages

from .models import Approval, Part, ToolCallPart

__all__ = [
    "NOT_RUN",
    "Decision",
    "InvalidDecision",
    "close_unanswered",
    "decide",
    "mark_pending",
    "pending_calls",
]

# What the model is told of a call the user left unanswered by sending a new prompt.
NOT_RUN = "The user sent a new message instead of answering this tool call: it was not run."
_MAX_REASON = 2_000


class Decision(BaseModel):
    """The user's answer to one pending tool call."""

    tool_call_id: str = Field(max_length=200)
    approve: bool
    # Told to the model when denied.
    reason: str | None = Field(default=None, max_length=_MAX_REASON)
    # Arguments to run the tool with instead of the model's (approving only).
    args: dict[str, Any] | None = None


class InvalidDecision(ValueError):
    """The answers do not fit the pending calls (a 422 with this message)."""


def pending_calls(parts: Sequence[Part]) -> dict[str, ToolCallPart]:
    return {
        p.tool_call_id: p
        for p in parts
        if isinstance(p, ToolCallPart) and p.approval is not None and p.approval.state == "pending"
    }


def mark_pending(parts: Sequence[Part], ids: set[str], schemas: dict[str, Any]) -> None:
    """Mark the calls `ids` as waiting for the user, with their tools' schemas if known."""
    for part in parts:
        if isinstance(part, ToolCallPart) and part.tool_call_id in ids:
            schema = schemas.get(part.tool_name)
            part.approval = Approval(schema=schema if isinstance(schema, dict) else None)


def _check_args(call: ToolCallPart, args: dict[str, Any]) -> None:
    schema = call.approval.schema_ if call.approval else None
    if not schema:
        return
    try:
        errors = sorted(Draft202012Validator(schema).iter_errors(args), key=lambda e: e.path)
    except SchemaError:
        return  # a tool's own schema that is not valid JSON Schema checks nothing
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "the arguments"
        raise InvalidDecision(
            f"The arguments for {call.tool_name} do not fit the tool: {where}: {errors[0].message}"
        )


def decide(
    parts: Sequence[Part], decisions: Sequence[Decision], by: str, at: str
) -> tuple[list[Part], DeferredToolResults]:
    """The parts with the decisions recorded, and the results that resume the run.

    Every pending call must be answered, once; edited arguments must fit the tool's schema.
    """
    waiting = pending_calls(parts)
    answered = {d.tool_call_id: d for d in decisions}
    if len(answered) != len(decisions):
        raise InvalidDecision("A tool call is answered twice.")
    if unknown := set(answered) - set(waiting):
        raise InvalidDecision(f"No pending tool call has the id {sorted(unknown)[0]!r}.")
    if missing := set(waiting) - set(answered):
        raise InvalidDecision(f"Answer every pending tool call (missing: {sorted(missing)[0]!r}).")
    results = DeferredToolResults()
    out: list[Part] = []
    for part in parts:
        decision = answered.get(part.tool_call_id) if isinstance(part, ToolCallPart) else None
        if decision is None or not isinstance(part, ToolCallPart) or part.approval is None:
            out.append(part)
            continue
        approval = part.approval.model_copy(update={"by": by, "at": at})
        if decision.approve:
            if decision.args is not None:
                _check_args(part, decision.args)
                approval.args = json.dumps(decision.args, ensure_ascii=False)
            approval.state = "approved"
            results.approvals[part.tool_call_id] = ToolApproved(override_args=decision.args)
        else:
            approval.state = "denied"
            approval.reason = decision.reason or None
            message = "The user denied this tool call" + (
                f": {decision.reason}" if decision.reason else "."
            )
            results.approvals[part.tool_call_id] = ToolDenied(message)
        results.answered_by[part.tool_call_id] = by
        out.append(part.model_copy(update={"approval": approval}))
    return out, results


def close_unanswered(
    parts: Sequence[Part], messages: Sequence[ModelMessage], at: str
) -> tuple[list[Part], list[ModelMessage]]:
    """A new prompt instead of an answer: the pending calls are marked not run, and the reply's
    model messages end with a result for each saying so (Pydantic AI's `repair_messages`)."""
    out: list[Part] = []
    for part in parts:
        if isinstance(part, ToolCallPart) and part.approval and part.approval.state == "pending":
            approval = part.approval.model_copy(update={"state": "not_run", "at": at})
            part = part.model_copy(update={"approval": approval})
        out.append(part)
    repaired = repair_messages(list(messages))
    for message in repaired[len(messages) :]:
        for item in getattr(message, "parts", []):
            if isinstance(item, ToolReturnPart):
                item.content = NOT_RUN
    return out, repaired
