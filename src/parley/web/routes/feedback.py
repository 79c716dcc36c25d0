"""Ratings of replies: set or clear the owner's rating of a reply, and the rated replies as a
pydantic-evals dataset file (chat/feedback.py owns the ratings, chat/dataset.py the file)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from ...chat.dataset import MEDIA_TYPES, Format, dataset
from ...chat.feedback import MAX_COMMENT_CHARS, Feedback, Rated
from ...chat.models import Rating
from ...chat.text import check_text
from ...db.clock import now
from ..deps import Owner, StoreDep

router = APIRouter(tags=["feedback"])

NO_REPLY = "No such reply."
_ID = Path(max_length=64)
Comment = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_COMMENT_CHARS),
    AfterValidator(check_text),
]


class RateReply(BaseModel):
    """`PUT …/messages/{id}/feedback`: the rating, replacing the reply's rating and comment.
    A comment left out, null or blank: none."""

    rating: Rating
    comment: Comment | None = Field(default=None, description="Why, in a few words.")


class ReplyFeedback(BaseModel):
    """A reply's rating, as stored."""

    message_id: str
    conversation_id: str
    rating: Rating
    comment: str | None
    created_at: datetime
    # When it was last set: a change of rating or comment.
    updated_at: datetime


def _feedback(store: StoreDep) -> Feedback:
    return Feedback(store.engine)


FeedbackDep = Annotated[Feedback, Depends(_feedback)]


def _shown(rated: Rated) -> ReplyFeedback:
    return ReplyFeedback(
        message_id=rated.message_id,
        conversation_id=rated.conversation_id,
        rating=rated.rating,
        comment=rated.comment,
        created_at=rated.created_at,
        updated_at=rated.updated_at,
    )


@router.put(
    "/conversations/{conversation_id}/messages/{message_id}/feedback",
    responses={404: {"description": "No such reply of yours (a prompt cannot be rated)."}},
)
async def rate_reply(
    conversation_id: Annotated[str, _ID],
    message_id: Annotated[str, _ID],
    body: RateReply,
    owner: Owner,
    feedback: FeedbackDep,
) -> ReplyFeedback:
    """Rate a reply good or bad, with an optional comment: one rating per reply, this one
    replacing any before it. The rated replies are `GET /api/feedback`."""
    rated = await feedback.rate(
        owner, conversation_id, message_id, body.rating, body.comment or None
    )
    if rated is None:
        raise HTTPException(404, NO_REPLY)
    return _shown(rated)


@router.delete(
    "/conversations/{conversation_id}/messages/{message_id}/feedback",
    status_code=204,
    responses={404: {"description": NO_REPLY}},
)
async def clear_rating(
    conversation_id: Annotated[str, _ID],
    message_id: Annotated[str, _ID],
    owner: Owner,
    feedback: FeedbackDep,
) -> Response:
    """Take back the reply's rating (and its comment); done already if it had none."""
    if not await feedback.clear(owner, conversation_id, message_id):
        raise HTTPException(404, NO_REPLY)
    return Response(status_code=204)


@router.get(
    "/feedback",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}, "application/yaml": {}}}},
)
async def export_feedback(
    owner: Owner, feedback: FeedbackDep, format: Format = "json"
) -> StreamingResponse:
    """Your rated replies as a pydantic-evals dataset (`Dataset.from_file` reads it): one
    case per reply, its prompt and the branch before it as `inputs`, the reply as
    `expected_output` when rated good, and the rating, comment and model as `metadata`.
    Written as it is read."""
    name = f"parley-feedback-{now().date().isoformat()}.{format}"
    return StreamingResponse(
        _encoded(dataset(feedback, owner, format)),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _encoded(pieces: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for piece in pieces:
        yield piece.encode()
