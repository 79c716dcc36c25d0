"""Where profiled time goes: self time per owner (a Parley module, a package, a stdlib module),
Parley's run against the bare agent's."""

from __future__ import annotations

import cProfile
import pstats
import sys
from collections import Counter
from typing import Any

from .table import table

_STDLIB = f"/python{sys.version_info[0]}.{sys.version_info[1]}/"


def owner(filename: str) -> str:
    path = filename.replace("\\", "/")
    if "/src/parley/" in path:
        return "parley." + path.rsplit("/", 1)[1].removesuffix(".py")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/bench/" in path:
        return "bench"
    if _STDLIB in path:
        return "stdlib " + path.split(_STDLIB, 1)[1].split("/", 1)[0].removesuffix(".py")
    return path


def _stats(profile: cProfile.Profile) -> dict[Any, Any]:
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return stats


def self_time_by_owner(profile: cProfile.Profile) -> Counter[str]:
    """Self time per owner; a C function's time (json, pydantic-core, epoll...) is charged to
    the owner of the Python function that called it."""
    owners: Counter[str] = Counter()
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, callers) in _stats(profile).items():
        if filename != "~":
            owners[owner(filename)] += tottime
        elif callers:
            for (caller, _l, _n), edge in callers.items():
                owners[owner(caller) if caller != "~" else "C"] += edge[2]
        else:
            owners["C"] += tottime
    return owners


def report(parley: cProfile.Profile, bare: cProfile.Profile, turns: int, label: str) -> list[str]:
    ours, theirs = self_time_by_owner(parley), self_time_by_owner(bare)
    per_turn = 1000 / turns
    added = sum(ours.values()) - sum(theirs.values())
    owners = [
        [
            name,
            f"{ours[name] * per_turn:.2f}",
            f"{theirs[name] * per_turn:.2f}",
            f"{(ours[name] - theirs[name]) * per_turn:+.2f}",
            f"{(ours[name] - theirs[name]) / added * 100:.0f}%" if added > 0 else "",
        ]
        for name in sorted(ours.keys() | theirs.keys(), key=lambda n: theirs[n] - ours[n])
        if abs(ours[name] - theirs[name]) * per_turn >= 0.1
    ]
    functions = sorted(
        (
            (ct, tt, nc, f"{owner(f)}:{name}:{line}")
            for (f, line, name), (_cc, nc, tt, ct, _callers) in _stats(parley).items()
            if "/src/parley/" in f.replace("\\", "/")
        ),
        reverse=True,
    )[:20]
    return [
        f"Profile at {label}: self time by owner, ms/turn under cProfile (the profiler inflates",
        "everything: compare the columns with each other, not with the CPU table)",
        *table(["owner", "parley", "bare", "added", "of added"], owners),
        "",
        "Parley functions by cumulative time, ms/turn under cProfile (a generator's calls count",
        "each resumption)",
        *table(
            ["function", "cumulative", "self", "calls/turn"],
            [
                [where, f"{ct * per_turn:.2f}", f"{tt * per_turn:.2f}", f"{nc / turns:.0f}"]
                for ct, tt, nc, where in functions
            ],
        ),
    ]
