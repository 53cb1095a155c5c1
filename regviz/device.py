"""Device choice (cuda > mps > cpu) and seeding, in one place.

Every other module asks `resolve_device` so the whole course agrees on where tensors live.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import torch

ENV_VAR = "REGVIZ_DEVICE"


def _available(kind: str) -> bool:
    if kind == "cpu":
        return True
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return False


def default_device() -> torch.device:
    """The fastest available device: cuda, then mps, then cpu.

    The environment variable ``REGVIZ_DEVICE`` (e.g. ``cpu`` or ``cuda:1``) overrides the choice.

    Returns:
        A ``torch.device``.
    """
    override = os.environ.get(ENV_VAR, "").strip()
    if override and override.lower() != "auto":
        return resolve_device(override)
    for kind in ("cuda", "mps"):
        if _available(kind):
            return torch.device(kind)
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Turn ``None``, ``"auto"``, a string or a ``torch.device`` into an available ``torch.device``.

    Raises:
        ValueError: if the device string is malformed or the device is not available here.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a device name; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from exc
    if not _available(dev.type):
        allowed = [k for k in ("cpu", "cuda", "mps") if _available(k)]
        raise ValueError(f"device={device!r} is not available on this machine; available: {allowed} (or 'auto')")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    return dev


@contextmanager
def seeded(seed: int, device: str | torch.device | None = "cpu") -> Iterator[None]:
    """Run a block with torch's global generator (CPU, and ``device``'s if it is a GPU) seeded with ``seed``;
    the caller's generator state is restored afterwards, so a library call never reseeds the caller's RNG.

    Use it around model construction and training that draw from the global generator (weight init,
    dropout masks): ``with seeded(0): model = MLP(64, 10)``.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed={seed!r} must be an int")
    dev = resolve_device(device)
    gpu = [dev] if dev.type in ("cuda", "mps") else []
    with torch.random.fork_rng(devices=gpu, device_type=dev.type if gpu else "cuda"):
        torch.manual_seed(seed)
        yield


def _regviz_version() -> str:
    """regviz's version from its installed metadata: reading the package face (``regviz.__version__``) from here
    would import the face from a module the face imports (a cycle through ``sweep`` and ``train``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("regviz")
    except PackageNotFoundError:
        return "not installed (run from a source folder)"


def environment_report(device: str | torch.device | None = None) -> str:
    """One line per fact: Python, torch, torchvision, regviz versions, CPU threads and the device used."""
    import platform

    try:
        import torchvision
        tv = torchvision.__version__
    except Exception as exc:  # noqa: BLE001 -- report, don't fail, in the first cell of a notebook
        tv = f"not importable ({type(exc).__name__})"
    dev = resolve_device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    return "\n".join([
        f"python      {platform.python_version()}",
        f"torch       {torch.__version__}",
        f"torchvision {tv}",
        f"regviz      {_regviz_version()}",
        f"threads     {torch.get_num_threads()}",
        f"device      {dev} ({name})",
    ])


def mode_line(fast: bool) -> str:
    """The line each chapter prints after its parameters, so a saved notebook says which mode produced it."""
    if not isinstance(fast, bool):
        raise ValueError(f"fast={fast!r} must be True or False")
    if fast:
        return "mode: FAST (quick check: fewer epochs and smaller grids; the numbers below are not the chapter's)"
    return "mode: full (the chapter's own settings)"
