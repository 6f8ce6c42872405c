"""Dependence between scenarios, as the simulation consumes it (implemented by :class:`riskbudget.Dependence`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from ..fair import Register

__all__ = ["ChunkDriver", "FrequencyCoupling"]

#: Supplies, for the years ``[start, stop)`` of one chunk, per-scenario frequency
#: uniforms (a copula's draws, used instead of the scenario's own frequency
#: draws) and per-scenario frequency multipliers (common shocks).
ChunkDriver = Callable[[int, int], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]


class FrequencyCoupling(ABC):
    """Dependence between scenarios' yearly frequencies, as :func:`simulate` consumes it.

    The extension point for dependence: :class:`riskbudget.Dependence` (a
    copula plus common shocks) implements it, and so can any other model of
    how scenarios move together. ``simulate`` calls :meth:`chunk_driver` once
    per run and then the driver once per chunk of years, in year order.
    """

    @abstractmethod
    def chunk_driver(self, register: Register, root: np.random.SeedSequence) -> ChunkDriver | None:
        """Check the coupling against ``register``; the driver for a run seeded by ``root`` (None: independent).

        Streams must be derived from ``root`` by name (:mod:`riskbudget._random`)
        and consumed in year order, so that the chunk size never changes a result.
        """
