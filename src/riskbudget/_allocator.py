"""glibc allocator tuning, done at most once per process.

A simulation allocates and frees thousands of arrays of a few hundred KB to a
few MB. With glibc's start-up thresholds each is a fresh ``mmap``, paid for
page by page, and the page faults serialise the worker threads. Raising
``M_MMAP_THRESHOLD`` to 32 MB and ``M_TRIM_THRESHOLD`` to 64 MB - where
glibc's own dynamic tuning ends up after a while - makes runs about 30%
faster.

:func:`tune_once` is called by :func:`riskbudget.simulation` before its first
run in a process and does nothing on later calls. It does nothing at all off
glibc, when the user has set ``MALLOC_MMAP_THRESHOLD_`` or
``MALLOC_TRIM_THRESHOLD_``, or with ``RISKBUDGET_TUNE_MALLOC=0``. The cost
is that the process may keep up to 64 MB of freed memory for reuse, so
:func:`release` hands it back to the system at the end of a run (before the
result's tables are built, which would otherwise add to it). This is the
only process-wide setting riskbudget changes (see docs/architecture.md).
"""

from __future__ import annotations

import os
import threading

__all__ = ["tune_once", "tuned", "release"]

_lock = threading.Lock()
_done = False
_applied = False
_libc = None


def tuned() -> bool:
    """Whether the thresholds were raised in this process."""
    return _applied


def tune_once() -> None:
    """Raise glibc's mmap and trim thresholds, the first time only (see the module docstring)."""
    global _done, _applied
    with _lock:
        if _done:
            return
        _done = True
        if os.environ.get("RISKBUDGET_TUNE_MALLOC", "1").strip().lower() in ("0", "false", "no", "off"):
            return
        if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
            return
        import platform

        if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
            return
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6")
            m_trim_threshold, m_mmap_threshold = -1, -3
            libc.mallopt(m_mmap_threshold, 32 * 2**20)
            libc.mallopt(m_trim_threshold, 64 * 2**20)
            _applied = True
            global _libc
            _libc = libc
        except (OSError, AttributeError):  # pragma: no cover - no glibc after all
            pass


def release() -> None:
    """Return the freed memory the raised trim threshold keeps to the system (``malloc_trim``), if tuned."""
    if _libc is not None:
        _libc.malloc_trim(0)
