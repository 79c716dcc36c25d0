"""Share links: the owner's endpoints (`router`, under /api with the owner dependency) and
what a viewer reaches (`public`: the page, its files, the snapshot as JSON, "Continue in my
chats"), which decide who may view themselves (chat/shares.py owns the rules of a share).

Who may view a share: in local mode, the local user (Parley listens on loopback only there);
in accounts mode, any logged-in user, and anyone at all when the operator set
PARLEY_PUBLIC_SHARES. Continuing needs someone whose chats the copy goes to: a logged-in user,
or the local user. The share id names the snapshot and nothing else: a share id on any other
route, or another id here, finds nothing (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from ...chat.archive.errors import NotConvertible
from ...chat.archive.importer import FileLimits
from ...chat.models import Conversation
from ...chat.shares import Share, Shares
from ..deps import LOCAL_OWNER, AssetsDep, Owner, SettingsDep, StoreDep, UserDep
from ..mount import root
from ..schemas import SharedConversation, ShareLink, ShareList, ShareSettings
from ..sharepage import missing_page, share_page

router = APIRouter(tags=["shares"])
public = APIRouter(tags=["shares"])

NOT_SHARED = "This conversation is not shared."
NO_SHARE = "No such share."
# The share's responses: no search engine indexes them (the page's meta says so too), and no
# cache keeps them: a revoked link must stop working at once, in browsers and proxies too.
_PRIVATE = {"X-Robots-Tag": "noindex, nofollow", "Cache-Control": "no-store"}
# A file is a document of its own: even opened directly, it may run nothing and load nothing
# (as web/routes/files.py serves them).
_SANDBOX = "sandbox; default-src 'none'"
ShareId = Annotated[str, Path(max_length=64)]


def _shares(store: StoreDep) -> Shares:
    return Shares(store.engine)


SharesDep = Annotated[Shares, Depends(_shares)]


@dataclass(frozen=True)
class Viewer:
    """Who opens a share: `owner`, whose chats a copy goes to (None: nobody is logged in),
    and whether they may see it at all."""

    owner: str | None
    may_view: bool


async def _viewer(settings: SettingsDep, user: UserDep) -> Viewer:
    if settings.auth == "local":
        return Viewer(LOCAL_OWNER, may_view=True)
    if user is not None:
        return Viewer(user.id, may_view=True)
    return Viewer(None, may_view=settings.public_shares)


ViewerDep = Annotated[Viewer, Depends(_viewer)]


def _link(share: Share, request: Request) -> ShareLink:
    return ShareLink(
        id=share.id,
        conversation_id=share.conversation_id,
        title=share.title,
        url=f"{root(request.scope)}/s/{share.id}",
        include_files=share.include_files,
        created_at=share.created_at,
        updated_at=share.updated_at,
    )


# -- the owner's ----------------------------------------------------------------------------


@router.get("/conversations/{conversation_id}/share", responses={404: {"description": NOT_SHARED}})
async def get_share(
    request: Request, conversation_id: str, owner: Owner, shares: SharesDep
) -> ShareLink:
    """The conversation's share link, if it is shared."""
    share = await shares.get(owner, conversation_id)
    if share is None:
        raise HTTPException(404, NOT_SHARED)
    return _link(share, request)


@router.put(
    "/conversations/{conversation_id}/share",
    responses={201: {"description": "Shared now."}, 404: {"description": "No such conversation."}},
)
async def put_share(
    request: Request,
    conversation_id: str,
    body: ShareSettings,
    owner: Owner,
    shares: SharesDep,
    response: Response,
) -> ShareLink:
    """Share the branch shown now as a read-only page (201), or take its snapshot again under
    the same link ("Update link", 200). The page shows the prompts' files only with
    `include_files`."""
    found = await shares.put(owner, conversation_id, include_files=body.include_files)
    if found is None:
        raise HTTPException(404, "No such conversation.")
    share, created = found
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _link(share, request)


@router.get("/shares")
async def list_shares(request: Request, owner: Owner, shares: SharesDep) -> ShareList:
    """Your share links, the most recently shared or updated first."""
    return ShareList(items=[_link(s, request) for s in await shares.owned_by(owner)])


@router.delete("/shares/{share_id}", status_code=204, responses={404: {"description": NO_SHARE}})
async def revoke_share(share_id: ShareId, owner: Owner, shares: SharesDep) -> Response:
    """Stop sharing: the link answers 404 from now on; copies viewers made stay theirs."""
    if not await shares.revoke(owner, share_id):
        raise HTTPException(404, NO_SHARE)
    return Response(status_code=204)


# -- a viewer's -----------------------------------------------------------------------------


def _refuse(viewer: Viewer) -> None:
    """401 unless the viewer may see shares. Decided before the share is looked up, so that
    someone who may not view learns nothing, not even whether an id exists."""
    if not viewer.may_view:
        raise HTTPException(401, "Log in first.", headers=_PRIVATE)


@public.get("/s/{share_id}", include_in_schema=False)
async def shared_page(
    request: Request, share_id: str, viewer: ViewerDep, shares: SharesDep, assets: AssetsDep
) -> Response:
    prefix = root(request.scope)
    if not viewer.may_view:
        target = quote(f"{prefix}/s/{share_id}", safe="/")
        return RedirectResponse(f"{prefix}/login?next={target}", status_code=303, headers=_PRIVATE)
    shared = await shares.shared(share_id)
    if shared is None:
        return HTMLResponse(missing_page(assets.prefix, prefix), status_code=404, headers=_PRIVATE)
    page = share_page(
        shared,
        assets.prefix,
        can_continue=viewer.owner is not None,
        login=viewer.owner is None,
        root=prefix,
    )
    return HTMLResponse(page, headers=_PRIVATE)


@public.get(
    "/api/shared/{share_id}",
    response_model=SharedConversation,
    responses={401: {"description": "Log in first."}, 404: {"description": NO_SHARE}},
)
async def get_shared(share_id: ShareId, viewer: ViewerDep, shares: SharesDep) -> JSONResponse:
    """A shared snapshot: its messages as `GET …/messages` lists them."""
    _refuse(viewer)
    shared = await shares.shared(share_id)
    if shared is None:
        raise HTTPException(404, NO_SHARE, headers=_PRIVATE)
    body = {
        "id": shared.id,
        "title": shared.title,
        "shared_at": shared.shared_at.isoformat(),
        "include_files": shared.include_files,
        # Message.wire, documented as ListedMessage: each text once.
        "messages": [m.wire() for m in shared.messages()],
        "can_continue": viewer.owner is not None,
    }
    return JSONResponse(body, headers=_PRIVATE)


@public.get(
    "/s/{share_id}/files/{file_id}",
    response_class=Response,
    responses={
        200: {"description": "The file's bytes.", "content": {"application/octet-stream": {}}},
        404: {"description": "No such file in that share, or its files are not shared."},
    },
)
async def shared_file(
    share_id: ShareId,
    file_id: Annotated[str, Path(max_length=64)],
    viewer: ViewerDep,
    shares: SharesDep,
) -> Response:
    """A file of a shared snapshot, only when its owner included files: an image inline,
    anything else as a download."""
    _refuse(viewer)
    # Only the snapshot's own files: the share id reaches no other file of the owner's.
    found = await shares.file(share_id, file_id)
    if found is None:
        raise HTTPException(404, "No such file.", headers=_PRIVATE)
    inline = found.kind == "image"
    media_type = "text/plain; charset=utf-8" if found.kind == "text" else found.media_type
    headers = _PRIVATE | {
        "Content-Disposition": _disposition(found.name, inline),
        # With web/security.py's `nosniff`: the browser takes the type given, never a guess.
        "Content-Security-Policy": _SANDBOX,
    }
    return Response(found.data, media_type=media_type, headers=headers)


@public.post(
    "/api/shared/{share_id}/continue",
    status_code=201,
    responses={
        401: {"description": "Log in first."},
        404: {"description": NO_SHARE},
        413: {"description": "Its files would take more storage than you have."},
    },
)
async def continue_shared(
    share_id: ShareId,
    viewer: ViewerDep,
    shares: SharesDep,
    store: StoreDep,
    settings: SettingsDep,
) -> Conversation:
    """Copy the snapshot into your own chats, to go on with it: a conversation of yours with
    new ids, independent of the share (its files only if the owner included them). Like every
    write, it must be a JSON request from this site (web/security.py)."""
    _refuse(viewer)
    if viewer.owner is None:
        raise HTTPException(401, "Log in to continue this conversation.")
    limits = FileLimits(
        max_file_bytes=settings.max_file_bytes, max_storage=settings.max_storage_per_user
    )
    try:
        new = await shares.continue_in(viewer.owner, share_id, limits)
    except NotConvertible as exc:
        # The snapshot is Parley's own: what can fail is the viewer's storage limit.
        raise HTTPException(413, str(exc)) from None
    if new is None:
        raise HTTPException(404, NO_SHARE)
    conversation = await store.get_conversation(viewer.owner, new)
    if conversation is None:  # deleted the moment it was made
        raise HTTPException(404, NO_SHARE)
    return conversation


def _disposition(name: str, inline: bool) -> str:
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
