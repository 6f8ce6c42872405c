"""Print the NumPy CPU features to switch off to compute as another x86-64 machine would.

Usage (what ``make test-other-cpu`` does)::

    NPY_DISABLE_CPU_FEATURES="$(python scripts/other_cpu_features.py)" python -m pytest ...

NumPy picks its SIMD kernels (``exp``, ``log``, sums, ...) by CPU at import
time; ``NPY_DISABLE_CPU_FEATURES`` switches some of them off. NumPy accepts
only features that are both among its dispatch targets and present on this
CPU (older NumPy refuses the others with an error at import, newer NumPy
ignores them with a warning), so the list is computed here from what this
NumPy reports:

* the AVX-512 targets this CPU has (``AVX512F`` ... ``AVX512_SPR``, or
  ``X86_V4`` and ``AVX512_*`` on NumPy >= 2.4), so that an AVX-512 machine
  computes as an AVX2 one;
* on a CPU without AVX-512, the AVX2/FMA3 targets (``AVX2``, ``FMA3``,
  ``X86_V3``), so that it computes as an older machine would;
* nothing (an empty line) when neither is there.

Paired with PyTensor compiled for generic x86-64 in a fresh compile
directory, this shows on one machine what seeded MCMC gives on another.
"""

from __future__ import annotations

import sys


def features_to_disable() -> list[str]:
    try:
        from numpy._core import _multiarray_umath as umath  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core import _multiarray_umath as umath  # type: ignore[no-redef]

    present = {name for name, on in umath.__cpu_features__.items() if on}
    # Only dispatch targets can be switched off; baseline features are compiled in.
    targets = [name for name in umath.__cpu_dispatch__ if name in present]
    avx512 = [name for name in targets if name.startswith("AVX512") or name == "X86_V4"]
    if avx512:
        return avx512
    return [name for name in targets if name in ("AVX2", "FMA3", "X86_V3")]


def main() -> int:
    print(" ".join(features_to_disable()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
