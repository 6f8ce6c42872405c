"""What :func:`~riskbudget.bayes.fit` accepts besides the model: :class:`SamplerOptions` and :class:`ReadOptions`.

``fit`` takes the model (priors, frequency, severity, pooling, tail and their
hyperprior scales) as keywords, the sampler's settings as a
:class:`SamplerOptions` and, for a DataFrame or file of incidents, how to read
it as a :class:`ReadOptions` (as PyPortfolioOpt groups constraints). Loose
keywords still work: :func:`route_options` sends each to the object holding a
field of that name, so ``fit(data, ..., draws=2000, seed=7)`` is
``fit(data, ..., sampling=SamplerOptions(draws=2000, seed=7))``. An unknown
keyword is an error listing the allowed ones.

Examples
--------
>>> from riskbudget.bayes import ReadOptions, SamplerOptions
>>> from riskbudget.bayes.options import route_options
>>> sampling, reading = route_options("fit", {"draws": 2000, "seed": 7, "threshold": 10_000})
>>> sampling == SamplerOptions(draws=2000, seed=7), reading == ReadOptions(threshold=10_000)
(True, True)
>>> route_options("fit", {"draw": 2000})
Traceback (most recent call last):
...
riskbudget.exceptions.RiskBudgetError: fit: unknown keyword 'draw'; the options are draws, tune, ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np

from .._options import merge_options
from ..exceptions import InvalidParameterError, RiskBudgetError

__all__ = ["SamplerOptions", "ReadOptions", "SAMPLERS", "route_options"]

#: NUTS implementations: PyMC's own (PyTensor's C backend) or nutpie's.
SAMPLERS: tuple[str, ...] = ("pymc", "nutpie")


def _whole(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidParameterError(f"SamplerOptions: {name} ({value!r}) must be a whole number >= {minimum}")
    return int(value)


@dataclass(frozen=True)
class SamplerOptions:
    """How :func:`~riskbudget.bayes.fit` samples the posterior (not what the model is).

    Parameters
    ----------
    draws, tune, chains : int, default 1000, 1000, 2
        Posterior draws and tuning steps per chain, and the number of chains.
    cores : int, optional
        Processes to sample chains in (default: ``min(chains, CPUs)``); the
        result does not depend on it.
    target_accept : float, default 0.95
        NUTS's target acceptance rate; raise it (0.99) when there are divergences.
    dense_mass : bool, default True
        Adapt a dense mass matrix (``init="jitter+adapt_full"``). Truncated
        severities correlate ``mu`` and ``sigma`` strongly (a lower ``mu``
        with a larger ``sigma`` explains the recorded losses almost as well);
        a dense mass matrix samples that ridge several times more
        efficiently. The models have few parameters, so it is cheap.
    seed : int, optional
        Sampler seed; the same seed gives the same posterior. ``None`` draws
        one, recorded in ``result.seed``.
    sampler : {"pymc", "nutpie"}
        PyMC's NUTS (compiled with PyTensor's C backend) or nutpie's.
    progress : bool, optional
        Show the sampler's progress bar and log lines. ``False`` gives quiet
        output (no bar, PyMC's logger at ERROR for the call) for notebooks and
        tests. By default shown, unless ``RISKBUDGET_PROGRESS=0``.

    Examples
    --------
    >>> SamplerOptions(draws=2000, chains=4, seed=7)
    SamplerOptions(draws=2000, tune=1000, chains=4, cores=None, target_accept=0.95, dense_mass=True, seed=7, sampler='pymc', progress=None)
    >>> SamplerOptions(draws=0)
    Traceback (most recent call last):
    ...
    riskbudget.exceptions.InvalidParameterError: SamplerOptions: draws (0) must be a whole number >= 1
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    cores: int | None = None
    target_accept: float = 0.95
    dense_mass: bool = True
    seed: int | None = None
    sampler: Literal["pymc", "nutpie"] = "pymc"
    progress: bool | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name, minimum in (("draws", 1), ("tune", 0), ("chains", 1)):
            set_(self, name, _whole(name, getattr(self, name), minimum))
        if self.cores is not None:
            set_(self, "cores", _whole("cores", self.cores, 1))
        try:
            accept = float(self.target_accept)
        except (TypeError, ValueError):
            accept = math.nan
        if not 0.5 <= accept < 1.0:
            raise InvalidParameterError(f"SamplerOptions: target_accept ({self.target_accept!r}) must lie in [0.5, 1)")
        set_(self, "target_accept", accept)
        if self.seed is not None:
            if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
                raise InvalidParameterError(
                    f"SamplerOptions: seed ({self.seed!r}) must be a non-negative integer or None"
                )
            set_(self, "seed", int(self.seed))
        if self.sampler not in SAMPLERS:
            raise InvalidParameterError(f"SamplerOptions: sampler={self.sampler!r} is not one of {list(SAMPLERS)}")
        if not isinstance(self.dense_mass, (bool, np.bool_)):
            raise InvalidParameterError(f"SamplerOptions: dense_mass ({self.dense_mass!r}) must be True or False")
        set_(self, "dense_mass", bool(self.dense_mass))
        if self.progress is not None and not isinstance(self.progress, (bool, np.bool_)):
            raise InvalidParameterError(f"SamplerOptions: progress ({self.progress!r}) must be True, False or None")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class ReadOptions:
    """How :func:`~riskbudget.bayes.fit` reads incidents given as a DataFrame or a file.

    The fields are :func:`~riskbudget.bayes.read_incidents`'s keywords; ``None``
    leaves its default. They do not apply to an
    :class:`~riskbudget.bayes.IncidentData`, which is read already.

    Parameters
    ----------
    threshold : float, optional
        Reporting threshold: losses below it are not recorded.
    start, end : date-like, optional
        First and last observed day.
    exposure : mapping or DataFrame, optional
        Exposure weights by year (and unit).
    units, categories : sequence of str, optional
        Every unit (category) that exists, including those with no incident.
    """

    threshold: float | None = None
    start: Any = None
    end: Any = None
    exposure: Any = None
    units: Any = None
    categories: Any = None

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def given(self) -> dict[str, Any]:
        """The fields that are set (not None), as keywords of :func:`~riskbudget.bayes.read_incidents`."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}




def route_options(
    where: str,
    options: Mapping[str, Any],
    *,
    sampling: SamplerOptions | None = None,
    reading: ReadOptions | None = None,
) -> tuple[SamplerOptions, ReadOptions]:
    """Send loose keywords to the :class:`SamplerOptions` or :class:`ReadOptions` field of that name.

    Parameters
    ----------
    where : str
        The verb, named in errors.
    options : mapping
        The loose keywords (``draws=``, ``seed=``, ``threshold=``...).
    sampling, reading : optional
        Objects given by the caller; keywords fill their fields.

    Raises
    ------
    RiskBudgetError
        For an unknown keyword (listing the allowed ones), an object of the
        wrong type, or a field given both ways with different values.
    """
    if sampling is not None and not isinstance(sampling, SamplerOptions):
        raise RiskBudgetError(
            f"{where}: sampling must be a riskbudget.bayes.SamplerOptions, not {type(sampling).__name__}"
        )
    if reading is not None and not isinstance(reading, ReadOptions):
        raise RiskBudgetError(f"{where}: reading must be a riskbudget.bayes.ReadOptions, not {type(reading).__name__}")
    sampler_names, read_names = SamplerOptions.field_names(), ReadOptions.field_names()
    unknown = [k for k in options if k not in sampler_names and k not in read_names]
    if unknown:
        allowed = ", ".join([*sampler_names, *read_names])
        which = f"keyword {unknown[0]!r}" if len(unknown) == 1 else f"keywords {unknown}"
        raise RiskBudgetError(f"{where}: unknown {which}; the options are {allowed}")
    samp = merge_options(where, sampling or SamplerOptions(), {k: v for k, v in options.items() if k in sampler_names},
                  "sampling")
    read = merge_options(where, reading or ReadOptions(), {k: v for k, v in options.items() if k in read_names}, "reading")
    return samp, read
