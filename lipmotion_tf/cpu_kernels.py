"""Which TensorFlow CPU kernels run: oneDNN's wherever the CPU has AVX2 and FMA.

TensorFlow turns its oneDNN kernels on by default only on CPUs with AVX512_VNNI,
AVX512_BF16, AVX_VNNI or AMX; on a CPU with AVX2 and FMA alone (for example AMD EPYC before
Zen 4) its convolutions run on Eigen's kernels instead. On an AVX-512 machine with oneDNN
held to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``; docs/deployment.md, "AVX2-only CPUs"), the
full-size generator took 0.49 s per window with oneDNN against 0.58 s with Eigen. The choice
is read once, when TensorFlow loads, so it must be made before the first TensorFlow import.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
#: The instruction sets oneDNN's float32 kernels need to beat Eigen's.
ONEDNN_FLAGS = frozenset({"avx2", "fma"})


def cpuinfo_field(name: str, cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """The first value of ``name`` (``"model name"``, ``"flags"``) in ``cpuinfo``; None where
    it is absent or the file cannot be read (not Linux)."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return None


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags (``avx2``, ``avx512f``, ...); empty where they cannot be read."""
    return frozenset((cpuinfo_field("flags", cpuinfo) or "").split())


def prefer_onednn(environ: MutableMapping[str, str] | None = None,
                  flags: frozenset[str] | None = None,
                  tensorflow_loaded: bool | None = None) -> bool:
    """Sets ``TF_ENABLE_ONEDNN_OPTS=1`` where the CPU has AVX2 and FMA, unless it is set.

    A value the user gave (``0`` included) is kept, and nothing changes once TensorFlow is
    loaded (it would not read the variable again). Returns whether the variable was set.

    Args:
        environ: the environment to change (default ``os.environ``).
        flags: the CPU's feature flags (default: :func:`cpu_flags`).
        tensorflow_loaded: whether TensorFlow is already imported (default: looked up).
    """
    environ = os.environ if environ is None else environ
    if tensorflow_loaded is None:
        tensorflow_loaded = "tensorflow" in sys.modules
    if tensorflow_loaded or ONEDNN_VARIABLE in environ:
        return False
    if not ONEDNN_FLAGS <= (cpu_flags() if flags is None else flags):
        return False
    environ[ONEDNN_VARIABLE] = "1"
    return True
