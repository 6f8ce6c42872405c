"""Memory a run needs, checked before it starts.

A simulation or an optimisation that cannot fit in memory should fail at once
with a message that names what is too big (the years, a scenario's event
rate), how much memory it needs and how much there is, not minutes later with
NumPy's ``MemoryError`` or the kernel's out-of-memory killer.

The estimates are deliberately simple upper bounds of the large arrays a run
allocates; :func:`available_bytes` reads what the machine (or the container's
cgroup) still has. ``RISKBUDGET_MEMORY_LIMIT`` (bytes, or with a ``K``, ``M``,
``G`` or ``T`` suffix) overrides the detected amount, for shared machines or
tests.
"""

from __future__ import annotations

import os
from pathlib import Path

from .exceptions import MemoryLimitError

__all__ = ["available_bytes", "check_fits", "describe_bytes"]

_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _from_env() -> int | None:
    text = os.environ.get("RISKBUDGET_MEMORY_LIMIT", "").strip().upper().removesuffix("B")
    if not text:
        return None
    unit = text[-1] if text[-1] in _SUFFIXES else ""
    try:
        value = float(text[: len(text) - len(unit)]) * _SUFFIXES[unit]
    except ValueError:
        return None
    return int(value) if value > 0 else None


def _cgroup_room() -> int | None:
    """Bytes left under a cgroup (v2, then v1) memory limit, if one is set."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit_text = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit_text == "max":
            return None
        try:
            limit = int(limit_text)
        except ValueError:
            continue
        if limit >= 2**60:  # "no limit" on cgroup v1
            return None
        return max(limit - usage, 0)
    return None


def _system_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def available_bytes() -> int | None:
    """Memory this process can still use, in bytes (None when it cannot be told)."""
    env = _from_env()
    if env is not None:
        return env
    candidates = [b for b in (_system_available(), _cgroup_room()) if b is not None]
    return min(candidates) if candidates else None


def describe_bytes(n: float) -> str:
    """``describe_bytes(3.2e9) == '3.2 GB'``."""
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} bytes"


#: Share of the available memory one run may plan to use; the rest is left for
#: the summaries computed afterwards, the interpreter and other programs.
USABLE_SHARE = 0.8


def check_fits(needed: float, what: str, fix: str) -> None:
    """Raise :class:`MemoryLimitError` when ``needed`` bytes exceed 80% of what is available.

    ``what`` says which run needs the memory and why (e.g. "simulate: 30,000,000
    years x 16 scenarios"); ``fix`` says what to change.
    """
    room = available_bytes()
    if room is None or needed <= USABLE_SHARE * room:
        return
    raise MemoryLimitError(
        f"{what} needs about {describe_bytes(needed)} of memory, but only {describe_bytes(room)} is available "
        f"(a run may plan to use {USABLE_SHARE:.0%} of it); {fix}"
    )
