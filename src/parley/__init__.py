"""Parley: a chat web app for Pydantic AI agents.

The Python API (docs/embedding.md)::

    from parley import create_app

    app.mount("/chat", create_app(agent=agent))

`create_app`, `Settings` and `Asker` are imported on first use, so that `import parley.x` of
any one module does not load the whole web app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

__all__ = ["Asker", "Settings", "__version__", "create_app"]

if TYPE_CHECKING:
    from .app import create_app
    from .settings import Settings
    from .web.deps import Asker


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Settings":
        from .settings import Settings

        return Settings
    if name == "Asker":
        from .web.deps import Asker

        return Asker
    raise AttributeError(f"module 'parley' has no attribute {name!r}")
