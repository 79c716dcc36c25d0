"""/api/tokens: the caller's API tokens, for `Authorization: Bearer` use of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import AfterValidator, BaseModel, StringConstraints

from ...accounts.store import Token, User
from ...chat.text import check_text
from ..deps import AccountsDep, Owner, SettingsDep

router = APIRouter(prefix="/tokens", tags=["tokens"])


class TokenOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


class NewToken(TokenOut):
    token: str


class TokenCreate(BaseModel):
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
        AfterValidator(check_text),
    ]


class TokenList(BaseModel):
    items: list[TokenOut]


def _out(token: Token) -> TokenOut:
    return TokenOut(
        id=token.id, name=token.name, created_at=token.created_at, last_used_at=token.last_used_at
    )


@router.get("")
async def list_tokens(owner: Owner, accounts: AccountsDep) -> TokenList:
    return TokenList(items=[_out(t) for t in await accounts.list_tokens(owner)])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_token(
    body: TokenCreate, owner: Owner, accounts: AccountsDep, settings: SettingsDep
) -> NewToken:
    if settings.auth != "accounts":
        raise HTTPException(400, "API tokens need accounts mode: local mode has no login.")
    token, secret = await accounts.create_token(User(owner, ""), body.name)
    return NewToken(**_out(token).model_dump(), token=secret)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: str, owner: Owner, accounts: AccountsDep) -> Response:
    if not await accounts.revoke_token(owner, token_id):
        raise HTTPException(404, "No such token.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
