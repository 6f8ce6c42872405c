"""PyMC and ArviZ for the bayes package: imported when needed, their noise scoped to riskbudget's own calls.

A library must not change its process's warning filters or logger levels, so
everything here is a context manager that restores them on exit (lifelines
scopes its warnings with :func:`warnings.catch_warnings` in the same way):

* :func:`silenced` ignores, for the calls made inside it, three notices that
  riskbudget's own use of PyMC triggers: ArviZ 0.23's once-a-day "undergoing a
  major refactor" ``FutureWarning`` (raised when ArviZ is first imported; it
  would change a notebook's saved output once a day), PyTensor's "could not
  link to a BLAS installation" ``UserWarning`` (harmless for models this
  small; it prints the venv's path) and PyMC's "QuadPotentialFullAdapt is an
  experimental feature" (the dense mass matrix :func:`~riskbudget.bayes.fit`
  asks for). The filters match these messages only;
* :func:`quiet` sets PyMC's, PyTensor's and nutpie's loggers to ERROR (no
  "Sampling ..." or "took N seconds" lines) and puts their levels back;
* :func:`import_pymc` imports PyMC and ArviZ inside :func:`silenced`.

``warnings.catch_warnings`` is not thread-safe (before Python 3.14): fitting
models from several threads at once may mix up the filters of the threads
while the fits run, as with any library that scopes warnings this way.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

from ..exceptions import missing_dependency

__all__ = ["NOTICES", "LOGGERS", "silenced", "quiet", "import_pymc"]

#: (message regex, category) of the notices :func:`silenced` ignores.
NOTICES: tuple[tuple[str, type[Warning]], ...] = (
    (r"\s*ArviZ is undergoing a major refactor", FutureWarning),
    (r"\s*PyTensor could not link to a BLAS", UserWarning),
    (r"QuadPotentialFullAdapt is an experimental feature", UserWarning),
)

#: Loggers :func:`quiet` sets to ERROR.
LOGGERS = ("pymc", "pymc.sampling", "pymc.sampling.mcmc", "pymc.stats.convergence", "pytensor", "nutpie")


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Ignore :data:`NOTICES` inside the block; the process's warning filters are restored on exit."""
    with warnings.catch_warnings():
        for message, category in NOTICES:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


@contextlib.contextmanager
def quiet(enabled: bool = True) -> Iterator[None]:
    """Set :data:`LOGGERS` to ERROR inside the block (when ``enabled``); their levels are restored on exit."""
    if not enabled:
        yield
        return
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in LOGGERS]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def import_pymc() -> tuple[Any, Any]:
    """``(pymc, arviz)``, imported without their import-time notices (see :func:`silenced`)."""
    with silenced():
        try:
            import arviz as az
            import pymc as pm
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise missing_dependency("pymc", "bayes", "Fitting Bayesian loss models") from exc
    return pm, az
