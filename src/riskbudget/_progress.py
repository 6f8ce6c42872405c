"""Progress bars: the one place that decides whether to show one, and draws it with tqdm.

A bar shows when the caller asks (``progress=True``), never when it declines
(``progress=False``), and otherwise when the work is large, unless the
environment says ``RISKBUDGET_PROGRESS=0`` (tests, nbval) or forces it with
``RISKBUDGET_PROGRESS=1``. ``tqdm.auto`` draws in a terminal and in a
notebook alike; bars go to stderr.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["PROGRESS_THRESHOLD", "enabled", "bar"]

#: Above this much work (e.g. scenario-years) the default progress bar is shown.
PROGRESS_THRESHOLD = 20_000_000


def enabled(progress: bool | None, work: int | float) -> bool:
    """Whether to show a bar for ``work`` units given the caller's ``progress`` and the environment."""
    if progress is not None:
        return bool(progress)
    env = os.environ.get("RISKBUDGET_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    return work >= PROGRESS_THRESHOLD


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def bar(show: bool, total: int, desc: str, unit: str = "chunk") -> Any:
    """A tqdm bar of ``total`` steps, or a silent stand-in with the same ``update``/``close``."""
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)
