"""Random streams: the one place that turns a seed and a name into a generator.

A run has one root :class:`numpy.random.SeedSequence` built from ``seed``
(:func:`root_sequence`). Every stream below it is keyed by *names*
(``SeedSequence(entropy, spawn_key=root.spawn_key + key(name))``, the
mechanism behind ``SeedSequence.spawn``), never by position, so

* two scenarios with identical inputs are independent, never identical;
* adding, removing or reordering scenarios, controls or projects leaves every
  other stream unchanged;
* options compared under one seed share common random numbers: the
  simulation, the optimiser, the dependence driver and the value-of-
  information analysis reach the same draws because they build the same keys
  here (the ``*_stream`` functions), not because they repeat string literals;
* each stream is consumed in year order, so the chunk size never changes a
  result.

The key names are part of the reproducibility contract: changing one changes
every seeded result that uses it.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import numpy as np

from .exceptions import RiskBudgetError

__all__ = [
    "FRESH_SEED_BOUND",
    "fresh_seed",
    "root_sequence",
    "seed_of",
    "key",
    "stream",
    "Streams",
    "dependence_stream",
    "value_stream",
    "control_stream_name",
    "project_stream_name",
    "posterior_stream_name",
]

#: Seeds drawn for ``seed=None`` lie below this: short enough to read and copy,
#: and SeedSequence hashes them into a full-quality state.
FRESH_SEED_BOUND = 10**9


def fresh_seed() -> int:
    """A seed from the operating system's entropy, small enough to read and copy (< 10**9)."""
    return secrets.randbelow(FRESH_SEED_BOUND)


def root_sequence(seed: Any, *, where: str = "simulate") -> np.random.SeedSequence:
    """The run's root sequence: ``seed`` (a non-negative int), a SeedSequence, or None (a fresh seed)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence(fresh_seed())
    if isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise RiskBudgetError(f"{where}: seed ({seed!r}) must be a non-negative integer or None")
    return np.random.SeedSequence(int(seed))


def seed_of(root: np.random.SeedSequence) -> Any:
    """The seed that rebuilds ``root`` (its entropy, as a plain int where it is one)."""
    entropy = root.entropy
    return int(entropy) if isinstance(entropy, (int, np.integer)) else entropy


def key(text: str) -> tuple[int, ...]:
    """A stable 128-bit key for a name, as four 32-bit words."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def stream(root: np.random.SeedSequence, name: str) -> np.random.Generator:
    """The run-level generator keyed by ``name`` (not by any scenario)."""
    seq = np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + key(name))
    return np.random.Generator(np.random.PCG64(seq))


# --------------------------------------------------------------------------- #
# The names of the shared streams
# --------------------------------------------------------------------------- #
def control_stream_name(control_name: str) -> str:
    """Stream of a control's yearly strengths: one row of uniforms a year, shared by every scenario it covers."""
    return f"control:{control_name}"


def project_stream_name(project_name: str) -> str:
    """Stream of a project's yearly risk changes (and security-by-design share)."""
    return f"project:{project_name}"


def posterior_stream_name(posterior_key: str) -> str:
    """Stream of the yearly posterior-draw index shared by every scenario built from one fit."""
    return f"posterior:{posterior_key}"


def dependence_stream(root: np.random.SeedSequence, name: str) -> np.random.Generator:
    """A stream of the dependence between scenarios (copula draws, common shocks)."""
    return stream(root, "dependence:" + name)


def value_stream(root: np.random.SeedSequence, project_name: str) -> np.random.Generator:
    """The stream of a project's yearly delivered value, the same for every funding choice."""
    return stream(root, "value:" + project_name)


class Streams:
    """Named, independent random streams of one scenario, created on first use.

    ``streams("count")`` is keyed by the scenario and the factor;
    ``streams.shared(name, user)`` by the run and ``name`` only (a control's
    uncertain strength is one quantity, the same in every scenario it covers),
    with one generator per ``user`` so that each consumer reads the sequence
    from its start.
    """

    def __init__(self, root: np.random.SeedSequence, scenario_name: str) -> None:
        self._entropy = root.entropy
        self._root_key = tuple(root.spawn_key)
        self._prefix = self._root_key + key("scenario:" + scenario_name)
        self._streams: dict[str, np.random.Generator] = {}

    def __call__(self, name: str) -> np.random.Generator:
        g = self._streams.get(name)
        if g is None:
            seq = np.random.SeedSequence(self._entropy, spawn_key=self._prefix + key(name))
            g = self._streams[name] = np.random.Generator(np.random.PCG64(seq))
        return g

    def shared(self, name: str, user: str) -> np.random.Generator:
        """A run-level stream keyed by ``name`` only; ``user`` gets its own generator over the same draws."""
        cache_key = "shared:" + name + "\x00" + user
        g = self._streams.get(cache_key)
        if g is None:
            seq = np.random.SeedSequence(self._entropy, spawn_key=self._root_key + key("shared:" + name))
            g = self._streams[cache_key] = np.random.Generator(np.random.PCG64(seq))
        return g
