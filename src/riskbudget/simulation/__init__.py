"""Monte Carlo of the aggregate annual loss: :func:`simulate` and its :class:`SimulationResult`.

Modules: :mod:`~riskbudget.simulation.engine` (``simulate``: chunks, threads,
memory checks), :mod:`~riskbudget.simulation.kernel` (one scenario's events and
losses), :mod:`~riskbudget.simulation.result` (``SimulationResult`` and its
metrics), :mod:`~riskbudget.simulation.coupling` (the dependence protocol) and
:mod:`~riskbudget.simulation.distributed` (``simulate(..., client=)`` on a Dask
cluster; Dask is imported only there, when a client is given).
"""

from .coupling import ChunkDriver, FrequencyCoupling
from .distributed import DistributedSimulationResult
from .engine import BYTES_PER_EVENT, CHUNK_EVENTS, METHODS, memory_estimate, simulate
from .result import ALE_RSE_LIMIT, PrecisionWarning, SimulationResult

__all__ = [
    "simulate",
    "SimulationResult",
    "DistributedSimulationResult",
    "PrecisionWarning",
    "ALE_RSE_LIMIT",
    "FrequencyCoupling",
    "ChunkDriver",
    "memory_estimate",
    "METHODS",
    "CHUNK_EVENTS",
    "BYTES_PER_EVENT",
]
