"""`GET /api/models`: the models people may choose from for a conversation."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import CatalogDep, Owner
from ..schemas import ModelInfo

router = APIRouter(prefix="/models", tags=["models"])


@router.get("")
async def list_models(_owner: Owner, catalog: CatalogDep) -> list[ModelInfo]:
    """The models the operator offers, the default first, with what is known of each: the
    context window (tokens), whether it takes images and documents (`assumed` names the ones
    only nothing says otherwise about), and the price in USD per million input and output
    tokens (null when unknown, never a false 0)."""
    return [ModelInfo.model_validate(choice.public()) for choice in catalog.choices]
