"""Checkpoints: ``torch.save`` of state dicts plus a JSON sidecar, loaded safely.

A checkpoint ``runs/vae.pt`` is a dict of tensors / state dicts saved with :func:`torch.save`; next to
it ``runs/vae.json`` records the profile, the number of steps, metrics and library versions. Loading
always uses ``weights_only=True``, so a file that would run code when unpickled is refused, and each
way a checkpoint can be unusable (missing, too large, corrupt, unsafe, wrong architecture, saved
under another profile) raises :class:`CheckpointError` with a message that says what to do.
"""

from __future__ import annotations

import datetime
import json
import os
import pickle
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import course_lib

DEFAULT_MAX_BYTES = 512 * 2**20  # 512 MiB: far above any course model, far below a memory bomb
MAX_MB_ENV = "COURSE_CHECKPOINT_MAX_MB"  # overrides the cap (MiB), e.g. for a course with larger models
# set by the grader to the profile it grades: a checkpoint whose sidecar names another is refused
REQUIRE_PROFILE_ENV = "COURSE_REQUIRE_PROFILE"


def max_checkpoint_bytes() -> int:
    """The size cap of a checkpoint the loader accepts: ``$COURSE_CHECKPOINT_MAX_MB`` MiB, else 512 MiB."""
    raw = os.environ.get(MAX_MB_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{MAX_MB_ENV}={raw!r} is not a positive number of MiB; unset it for the default 512")
    return int(value * 2**20)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; the message says why and what to do."""


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON file that sits next to checkpoint ``path``."""
    return Path(path).with_suffix(".json")


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any], *, meta: dict[str, Any] | None = None) -> Path:
    """Save ``state`` (name -> state dict or tensor) to ``path`` and its JSON sidecar.

    The file is written to a temporary name first and renamed, so an interrupted save never leaves a
    half-written checkpoint behind.

    Args:
        path: where to write, usually ``checkpoints/<run>.pt``.
        state: e.g. ``{"model": model.state_dict(), "optimizer": opt.state_dict()}``.
        meta: JSON-serialisable facts: ``profile``, ``steps``, ``metrics``... Versions and a time
            stamp are added.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    sidecar = dict(meta or {})
    sidecar.setdefault("created", datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
    sidecar["versions"] = {
        "course_lib": course_lib.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    sidecar_path(path).write_text(json.dumps(sidecar, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Return the sidecar of checkpoint ``path`` (an empty dict when there is none)."""
    side = sidecar_path(path)
    if not side.exists():
        return {}
    try:
        return json.loads(side.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"the sidecar {side} is not valid JSON ({exc}); delete it together with {Path(path).name} "
            "and re-run the training cell"
        ) from exc


def load_checkpoint(
    path: str | os.PathLike, *, max_bytes: int | None = None, map_location: str | torch.device = "cpu"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load checkpoint ``path`` safely.

    Returns:
        ``(state, meta)``: the saved dict and its sidecar.

    Raises:
        CheckpointError: missing, larger than ``max_bytes`` (default: :func:`max_checkpoint_bytes`), corrupt, or not loadable with
            ``weights_only=True``.
    """
    path = Path(path)
    if max_bytes is None:
        max_bytes = max_checkpoint_bytes()
    if not path.exists():
        raise CheckpointError(
            f"no checkpoint at {path}: run the training cell to create it (or copy your saved checkpoint to that path)"
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise CheckpointError(
            f"checkpoint {path} is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit; "
            "save only the model's state_dict (no data, no optimizer history)"
        )
    check_archive(path, size, max_bytes)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"refused to load {path}: it holds objects other than tensors and plain containers, and "
            "loading it could run code. Only checkpoints written by course_lib.checkpoints."
            f"save_checkpoint are accepted; re-run the training cell to write a clean one. ({_first_line(exc)})"
        ) from exc
    except Exception as exc:  # truncated zip, garbage bytes, legacy-format noise: all unreadable
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({_first_line(exc)}); delete it and re-run the training cell"
        ) from exc
    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(state).__name__}, not a dict of state dicts; save it with "
            "course_lib.checkpoints.save_checkpoint"
        )
    meta = read_meta(path)
    required = os.environ.get(REQUIRE_PROFILE_ENV, "").strip()
    saved = meta.get("profile") if isinstance(meta, dict) else None
    if required and saved is not None and saved != required:
        raise CheckpointError(
            f"checkpoint {path} was saved under the {saved!r} profile, but this course grades the {required!r} "
            f"profile: train it again with COURSE_PROFILE={required} and submit that checkpoint"
        )
    if required and isinstance(meta, dict) and meta.get("smoke"):
        raise CheckpointError(
            f"checkpoint {path} was trained in smoke mode (COURSE_SMOKE=1: the {saved!r} profile, shortened), "
            f"which is not graded: train it again without COURSE_SMOKE and submit that checkpoint"
        )
    return state, meta


def check_archive(path: Path, size: int, max_bytes: int) -> None:
    """Refuse a file that is not a plain ``torch.save`` zip archive before torch reads any of it.

    ``torch.save`` writes an uncompressed zip; each member's size is known before anything is
    allocated, so a small file cannot expand in memory (a deflated member of a few MiB can inflate
    to GiB) and a member cannot claim bytes the file does not hold. A bare pickle (the legacy format,
    or a file that would run code when unpickled) is refused here too.
    """
    import zipfile

    with open(path, "rb") as f:
        head = f.read(4)
    if head[:1] == b"\x80":
        raise CheckpointError(
            f"refused to load {path}: it is a bare pickle, not a torch.save archive, and loading it could run "
            "code. Only checkpoints written by course_lib.checkpoints.save_checkpoint are accepted; re-run the "
            "training cell to write a clean one."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({_first_line(exc)}); delete it and re-run the training cell"
        ) from exc
    if len(members) > 100_000:
        raise CheckpointError(f"checkpoint {path} holds {len(members)} entries: it is not a course checkpoint")
    total = 0
    for m in members:
        if m.compress_type != zipfile.ZIP_STORED or m.compress_size != m.file_size:
            raise CheckpointError(
                f"refused to load {path}: its entry {m.filename!r} is compressed, and torch.save never compresses "
                "(a compressed entry can expand far past its size on disk). Save it with save_checkpoint."
            )
        if m.header_offset + m.file_size > size:
            raise CheckpointError(
                f"checkpoint {path} is corrupt or truncated (entry {m.filename!r} runs past the end "
                "of the file); delete it and re-run the training cell"
            )
        total += m.file_size
    if total > max_bytes:
        raise CheckpointError(
            f"checkpoint {path} would take {total / 2**20:.0f} MiB in memory, over the "
            f"{max_bytes / 2**20:.0f} MiB limit"
        )


def load_into(
    module: torch.nn.Module,
    path: str | os.PathLike,
    *,
    key: str = "model",
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """Load ``state[key]`` of checkpoint ``path`` into ``module`` strictly; return the sidecar.

    Raises:
        CheckpointError: as :func:`load_checkpoint`, plus a missing ``key`` or a state dict that does
            not fit ``module`` (missing or unexpected parameters, wrong shapes).
    """
    state, meta = load_checkpoint(path, max_bytes=max_bytes)
    if key not in state:
        raise CheckpointError(
            f"checkpoint {path} has no entry {key!r} (it has {sorted(state)}); was it saved by another cell?"
        )
    problems = architecture_mismatch(module, state[key])
    if problems:
        raise CheckpointError(
            f"checkpoint {path} was saved from a different architecture than {type(module).__name__}: "
            + "; ".join(problems)
            + ". Re-run the training cell with the current settings, or build the model with the "
            "settings the checkpoint was saved with."
        )
    module.load_state_dict(state[key])
    return meta


def architecture_mismatch(module: torch.nn.Module, state_dict: dict[str, Any]) -> list[str]:
    """Describe how ``state_dict`` fails to fit ``module`` (an empty list when it fits)."""
    if not isinstance(state_dict, dict):
        return [f"the saved entry is a {type(state_dict).__name__}, not a state dict"]
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        f"{k}: saved {tuple(state_dict[k].shape)}, model {tuple(v.shape)}"
        for k, v in own.items()
        if k in state_dict and hasattr(state_dict[k], "shape") and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected {_few(unexpected)}")
    if shapes:
        problems.append(f"shape mismatch {_few(shapes)}")
    return problems


def load_or_train(
    path: str | os.PathLike,
    module: torch.nn.Module,
    train: Callable[[], dict[str, Any]],
    *,
    profile: str,
    key: str = "model",
    extra_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The notebooks' training cells: load ``path`` into ``module`` if it exists, else train and save.

    ``train()`` trains ``module`` in place and returns a meta dict (history, metrics...). A checkpoint
    saved under another profile is not silently reused: it is retrained, except under nbgrader's
    autograding in the full profile, where nothing trains and a missing checkpoint is an error.

    Returns:
        The sidecar (loaded or freshly written), with ``"loaded": True`` when nothing trained.
    """
    from .profiles import smoke_mode

    path = Path(path)
    autograding = os.environ.get("NBGRADER_EXECUTION") == "autograde"
    smoke = profile == "full" and smoke_mode()  # a smoke run's checkpoints never stand in for a full run's
    if path.exists():
        meta = read_meta(path)
        if meta.get("profile", profile) == profile and bool(meta.get("smoke", False)) == smoke:
            meta = load_into(module, path, key=key)
            meta["loaded"] = True
            return meta
        if autograding and profile == "full":
            raise CheckpointError(
                f"checkpoint {path} was saved in the {meta.get('profile')!r} profile but grading runs the "
                f"{profile!r} profile; submit checkpoints trained with COURSE_PROFILE={profile}"
            )
    elif autograding and profile == "full":
        raise CheckpointError(
            f"no checkpoint at {path}: in the full profile the grader evaluates the checkpoints you submit "
            "and trains nothing. Submit the checkpoints/ folder next to your notebook."
        )
    meta = dict(train() or {})
    meta.update(extra_meta or {})
    meta["profile"] = profile
    if smoke:
        meta["smoke"] = True
    save_checkpoint(path, {key: module.state_dict()}, meta=meta)
    meta["loaded"] = False
    return meta


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _few(items: list[str], n: int = 4) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")
