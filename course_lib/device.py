"""Device selection, seeding and the mixed-precision context."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

_VALID_DEVICES = ("cpu", "cuda")


def get_device(name: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    Every function of the library that takes ``device=None`` resolves it here, so nothing silently runs
    on the CPU next to a GPU.

    Args:
        name: ``"cpu"`` or ``"cuda"`` (optionally ``"cuda:N"``), or a ``torch.device``. When omitted, the
            ``COURSE_DEVICE`` environment variable decides, and without it CUDA is used when available.

    Returns:
        A ``torch.device``.
    """
    if isinstance(name, torch.device):
        name = str(name)
    name = name or os.environ.get("COURSE_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    kind = name.split(":", 1)[0]
    if kind not in _VALID_DEVICES:
        raise ValueError(f"unknown device {name!r}; expected one of {', '.join(_VALID_DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {name!r} was asked for but CUDA is not available on this machine; "
            "unset COURSE_DEVICE or set it to 'cpu'"
        )
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and return a CPU generator seeded the same way."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def autocast(device: torch.device | str, enabled: bool | None = None) -> contextlib.AbstractContextManager[None]:
    """Mixed-precision context: bf16 autocast on CUDA, a no-op on the CPU unless asked for.

    Log-likelihoods, KL terms, gradient-penalty norms and FID statistics must be computed outside
    this context (or cast to float32) by the caller.

    Args:
        device: the device the computation runs on.
        enabled: ``None`` means on for CUDA and off elsewhere.
    """
    device = torch.device(device)
    if enabled is None:
        enabled = device.type == "cuda"
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


# --- opt-in fast paths (STYLE.md 11): one place, read from the environment, off by default ------------

_ON, _OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(f"{name}={value!r} is not understood; set it to 1 (on) or 0 (off)")


def compile_backend_from_env() -> str | None:
    """The ``torch.compile`` backend asked for by ``COURSE_COMPILE``: None (off, the default), ``"inductor"``
    for ``1``, or a backend name such as ``eager`` / ``aot_eager`` (cheap, for tests and debugging)."""
    value = os.environ.get("COURSE_COMPILE", "").strip().lower()
    if value in _OFF:
        return None
    if value in _ON:
        return "inductor"
    import torch._dynamo

    known = torch._dynamo.list_backends(exclude_tags=())
    if value not in known:
        raise ValueError(f"COURSE_COMPILE={value!r} is not understood; set it to 0, 1 or a backend in {known}")
    return value


def prepare_model(
    model: torch.nn.Module,
    device: torch.device | str,
    *,
    channels_last: bool | None = None,
    compile: str | bool | None = None,
    compile_modules: tuple[str, ...] = (),
) -> torch.nn.Module:
    """Apply the opt-in fast paths to ``model`` (already on ``device``) in place and return it.

    * ``channels_last`` (``COURSE_CHANNELS_LAST=1``): 4-d weights in NHWC memory order, which the conv
      kernels of cuDNN (tensor cores) and oneDNN prefer; results change in the last float bits only.
    * ``compile`` (``COURSE_COMPILE=1`` or a backend name): ``nn.Module.compile`` in place, so parameter
      names and checkpoints stay as they are. The modules compiled are ``compile_modules`` (the names of
      the submodules the loss function calls, e.g. ``("encoder", "decoder")``), or the model itself.
    * on CUDA only, ``torch.backends.cudnn.benchmark = True`` (``COURSE_CUDNN_BENCHMARK=0`` keeps
      cuDNN's default): cuDNN times its conv algorithms once per shape and keeps the fastest.

    With the flags unset nothing happens on the CPU: the same module, untouched, so training stays
    bit-identical. ``None`` means "read the environment variable"; a bool or backend name overrides it.
    """
    device = torch.device(device)
    if channels_last is None:
        channels_last = _env_flag("COURSE_CHANNELS_LAST")
    if compile is None:
        compile = compile_backend_from_env()
    elif compile is True:
        compile = "inductor"
    if device.type == "cuda" and os.environ.get("COURSE_CUDNN_BENCHMARK", "1") != "0":
        torch.backends.cudnn.benchmark = True
    if channels_last:
        model.to(memory_format=torch.channels_last)  # only 4-d parameters and buffers change layout
    if compile:
        for name in compile_modules or ("",):
            target = model.get_submodule(name)
            if target is None or isinstance(target, torch.nn.Identity):
                continue
            target.compile(backend=compile)
    return model
