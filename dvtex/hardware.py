"""The machine a figure was measured on, in one line: CPU model, SIMD level, cores, torch and threads.

Torch-free (the player's benchmarks use it too): torch's version comes from the installed package's
metadata and its thread count only when torch is already imported.
"""

import os
import platform
import sys
from importlib import metadata

# The widest vector extension first: a figure measured with AVX-512 or AMX does not transfer to AVX2.
SIMD_LEVELS = (("amx_tile", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2"),
               ("asimd", "NEON"))


def cpu_model():
    """The CPU's marketing name where the OS says it (Linux /proc/cpuinfo), else the platform's guess."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model", "Hardware")) and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")) and ":" in line:
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def simd_level(flags=None):
    """The widest SIMD extension the CPU reports: AMX, AVX-512, AVX2, AVX, SSE4.2, NEON, or 'unknown'."""
    flags = cpu_flags() if flags is None else flags
    return next((name for flag, name in SIMD_LEVELS if flag in flags), "unknown")


def torch_description():
    """e.g. 'torch 2.13.0 with 2 threads', and where torch runs narrower kernels than the CPU has
    (ATEN_CPU_CAPABILITY=avx2 on an AVX-512 machine), ', AVX2 kernels'."""
    try:
        version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "no torch"
    torch = sys.modules.get("torch")
    if torch is None:
        return f"torch {version}"
    kernels = torch.backends.cpu.get_cpu_capability()  # DEFAULT, VSX, ZVECTOR, NO AVX, AVX2, AVX512
    restricted = os.environ.get("ATEN_CPU_CAPABILITY") and kernels.upper().replace("512", "-512") != simd_level()
    return f"torch {version} with {torch.get_num_threads()} threads" + (f", {kernels} kernels" if restricted else "")


def hardware():
    """e.g. 'AMD EPYC (AVX-512), x86_64, 2 cores, torch 2.13.0 with 2 threads'."""
    return f"{cpu_model()} ({simd_level()}), {platform.machine()}, {os.cpu_count()} cores, {torch_description()}"
