"""Which device the probe runs on, how much memory it has, and seeding without touching the user's RNG."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch

from gradlint.errors import GradlintError, UsageError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when available; ``cuda`` (or ``cuda:N``) without CUDA is an error."""
    name = str(device).strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise GradlintError(
                f"--device {name}: CUDA is not available to this PyTorch build "
                f"(torch {torch.__version__}); use --device cpu or --device auto"
            )
        try:
            resolved = torch.device(name)
        except RuntimeError as exc:
            raise UsageError(f"--device {name}: {exc}") from None
        if resolved.index is None:  # name the device that will be used, e.g. in the report
            return torch.device("cuda", torch.cuda.current_device())
        if resolved.index >= torch.cuda.device_count():
            raise GradlintError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) visible; use --device cuda"
            )
        return resolved
    raise UsageError(f"--device {name}: expected one of {', '.join(DEVICE_CHOICES)} (or cuda:N)")


def available_memory(device: torch.device, limit_bytes: int | None = None) -> tuple[int | None, str]:
    """Bytes the probe may use on ``device`` and where that number came from.

    An explicit ``limit_bytes`` wins. CUDA: free device memory plus what PyTorch's caching
    allocator holds but does not use. CPU: ``MemAvailable`` from /proc/meminfo, capped by a
    cgroup v2 memory limit when one is set. ``(None, ...)`` when it cannot be told.
    """
    if limit_bytes is not None:
        return int(limit_bytes), "the memory limit passed"
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        free, _total = torch.cuda.mem_get_info(index)
        cached = torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index)
        return int(free + max(cached, 0)), f"free memory on cuda:{index}"
    if device.type == "cpu":
        return _cpu_available()
    return None, f"unknown for device {device}"


def _cpu_available() -> tuple[int | None, str]:
    available: int | None = None
    source = "unknown (no /proc/meminfo)"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                source = "MemAvailable in /proc/meminfo"
                break
    except OSError:
        pass
    cgroup = _cgroup_headroom()
    if cgroup is not None and (available is None or cgroup < available):
        return cgroup, "the cgroup memory limit"
    return available, source


def _cgroup_headroom() -> int | None:
    # cgroup v2 only; containers often cap memory below what /proc/meminfo reports.
    # Page cache the kernel can drop (inactive_file) does not count as used.
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int((root / "memory.current").read_text().strip())
        for line in (root / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "inactive_file":
                used -= int(value)
        return max(int(limit) - max(used, 0), 0)
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def seeded_rng(device: torch.device, seed: int) -> Iterator[None]:
    """Seed the global RNG of the CPU and of ``device`` for the block, then restore both.

    Dropout and other in-model randomness draw from the global generators; forking them
    keeps the user's RNG state untouched and makes each seed's run reproducible.
    ``torch.manual_seed`` is avoided because it would also reseed CUDA devices that
    ``fork_rng`` does not restore.
    """
    cuda_index: int | None = None
    if device.type == "cuda":
        cuda_index = device.index if device.index is not None else torch.cuda.current_device()
    with torch.random.fork_rng(devices=[] if cuda_index is None else [cuda_index], device_type="cuda"):
        torch.random.default_generator.manual_seed(seed)
        if cuda_index is not None:
            with torch.cuda.device(cuda_index):
                torch.cuda.manual_seed(seed)  # this device only, unlike manual_seed_all
        yield
