"""Run profiles: one frozen dataclass per assignment, in two flavours.

* ``full``: the anchor courses' settings, real data sets, meant for a GPU.
* ``fast``: offline data and small sizes that run in a few CPU minutes (what CI runs).

The active profile comes from the ``COURSE_PROFILE`` environment variable; without it, ``full``
when CUDA is available and ``fast`` otherwise. That default on a GPU says so loudly, once, with what
the full profile costs (:func:`default_profile_notice`), so nobody starts hours of training by
accident; with ``COURSE_PROFILE`` set (as in CI and under grading) nothing is printed. Each
assignment's ``course_lib/assignments/<short>/profile.py`` defines its dataclass and registers both flavours with
:func:`register`; :func:`graded_profile` is the profile the course grades (what a submission's
checkpoints must be saved under).

Example::

    from course_lib.profiles import get_profile
    cfg = get_profile("05_importance_sampling")            # active profile
    cfg = get_profile("05_importance_sampling", "fast", epochs=2)  # checked override

``COURSE_PROFILE_OVERRIDES`` changes profiles from outside a notebook (the calibration driver sets a
seed with it, a smoke run shrinks lengths): a JSON object mapping assignment -> {field: value}, e.g.
``{"02_vae": {"seed": 3, "epochs": 2}}``. :func:`get_profile` applies it to every profile of that
assignment it returns (either flavour), through :func:`override`, so an unknown assignment, an
unknown field or a wrong type raises instead of being ignored; JSON lists become tuples.

``COURSE_SMOKE=1`` (smoke mode) shrinks the ``full`` profile for a check of its code path on a CPU: the
same data sets, nets, extractors and code, with only lengths and sample counts replaced by the
assignment's ``smoke`` settings (each profile module states them once, next to ``FULL``, and
:func:`register` checks them through :func:`override`). It applies before ``COURSE_PROFILE_OVERRIDES``
and leaves ``fast`` alone. Checkpoints trained in smoke mode are marked as such: a full run never reuses
them, and grading refuses them (:mod:`course_lib.checkpoints`). CI runs every solution notebook this way
on fake data in the real formats (tests/test_full_smoke.py).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
import typing
from typing import Any

from course_lib.assignments import discover

PROFILE_NAMES = ("full", "fast")

# assignment folder name -> its package under course_lib/assignments/ (whose profile.py registers its profiles),
# found by discovery: adding an assignment adds a package, never a line here
ASSIGNMENT_MODULES = discover()

OVERRIDES_ENV = "COURSE_PROFILE_OVERRIDES"
SMOKE_ENV = "COURSE_SMOKE"

_REGISTRY: dict[str, dict[str, Any]] = {}
_SMOKE: dict[str, dict[str, Any]] = {}
_COST: dict[str, str] = {}
_TIMEOUTS: dict[str, dict[str, Timeouts]] = {}


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """How long grading waits for one submission of an assignment in one profile.

    Attributes:
        cell_s: one cell: of the notebook's run in the sandbox (a training cell, a visible FID), and each
            threshold cell the judge evaluates (the hidden measurement on the submitted checkpoints).
        submission_s: the whole notebook run of one submission.
    """

    cell_s: int
    submission_s: int

    def __post_init__(self) -> None:
        if not (isinstance(self.cell_s, int) and isinstance(self.submission_s, int)) or self.cell_s < 1:
            raise ValueError(f"timeouts are positive whole seconds, got {self.cell_s!r} and {self.submission_s!r}")
        if self.submission_s < self.cell_s:
            raise ValueError(f"a submission's {self.submission_s} s cannot be shorter than one cell's {self.cell_s} s")


# what an assignment's profile does not say otherwise: the fast profile's training cells take minutes on a CPU
DEFAULT_TIMEOUTS = Timeouts(cell_s=1200, submission_s=3600)
GRADING_PROFILE_ENV = "COURSE_GRADING_PROFILE"
_announced: set[str] = set()


def graded_profile(env: dict[str, str] | None = None) -> str:
    """The profile the course grades: ``$COURSE_GRADING_PROFILE``, else ``fast`` (the grader's default too)."""
    env = os.environ if env is None else env
    name = env.get(GRADING_PROFILE_ENV, "").strip().lower() or "fast"
    if name not in PROFILE_NAMES:
        raise ValueError(f"unknown {GRADING_PROFILE_ENV} {name!r}; expected one of {', '.join(PROFILE_NAMES)}")
    return name


def default_profile_notice(device_name: str, env: dict[str, str] | None = None) -> str:
    """The banner printed when ``COURSE_PROFILE`` is unset on a GPU and ``full`` is chosen for you."""
    costs = ", ".join(f"{a} {c}" for a, c in full_profile_costs().items())
    graded = graded_profile(env)
    bar = "=" * 78
    lines = [
        bar,
        f"COURSE_PROFILE is not set and a GPU is available ({device_name}): this runs the FULL profile.",
        "The full profile downloads the real data sets and trains the anchor courses' models; estimated",
        f"GPU time per notebook: {costs}.",
    ]
    if graded != "full":
        lines.append(
            f"This course grades the {graded!r} profile: checkpoints saved under 'full' are refused when you submit."
        )
    lines += [
        "For the fast profile (offline data, a few minutes per notebook): set COURSE_PROFILE=fast before",
        "starting Jupyter (Colab: os.environ['COURSE_PROFILE'] = 'fast' in the first cell) and restart the kernel.",
        "To keep the full profile and silence this message: COURSE_PROFILE=full.",
        bar,
    ]
    return "\n".join(lines)


def active_profile_name(env: dict[str, str] | None = None) -> str:
    """Return ``"full"`` or ``"fast"`` from ``COURSE_PROFILE`` (default: full on CUDA, else fast).

    The default on CUDA prints :func:`default_profile_notice` to stderr, once per process.
    """
    env = os.environ if env is None else env
    name = env.get("COURSE_PROFILE", "").strip().lower()
    if not name:
        import torch

        if not torch.cuda.is_available():
            return "fast"
        if "full" not in _announced:
            _announced.add("full")
            print(default_profile_notice(torch.cuda.get_device_name(0), env), file=sys.stderr, flush=True)
        return "full"
    if name not in PROFILE_NAMES:
        raise ValueError(f"unknown COURSE_PROFILE {name!r}; expected one of {', '.join(PROFILE_NAMES)}")
    return name


def register(
    assignment: str,
    *,
    full: Any,
    fast: Any,
    smoke: dict[str, Any] | None = None,
    cost: str,
    timeouts: dict[str, Timeouts] | None = None,
) -> None:
    """Register the two profiles of an assignment (called by each assignment's ``profile.py``).

    Args:
        smoke: the fields smoke mode (``COURSE_SMOKE=1``) replaces in ``full``: lengths and sample
            counts only. Checked here through :func:`override`, so a typo fails at import.
        cost: what the full profile costs on one GPU, as the banner of :func:`default_profile_notice` says
            it (e.g. ``"about 70 min"``): the README's estimate (training FLOPs at an assumed 25 TFLOP/s
            sustained, docs/benchmarks.md), not a measurement.
        timeouts: profile name -> how long grading waits (:class:`Timeouts`); a profile left out gets
            :data:`DEFAULT_TIMEOUTS`. The full profile's are sized for one GPU.
    """
    if not cost.strip():
        raise ValueError(f"profiles of {assignment!r}: say what the full profile costs on one GPU (cost=...)")
    for cfg in (full, fast):
        if not (dataclasses.is_dataclass(cfg) and cfg.__dataclass_params__.frozen):
            raise TypeError(f"profiles of {assignment!r} must be frozen dataclass instances")
    smoke = dict(smoke or {})
    override(full, **smoke)
    _REGISTRY[assignment] = {"full": full, "fast": fast}
    _SMOKE[assignment] = smoke
    _COST[assignment] = cost
    unknown = set(timeouts or {}) - set(PROFILE_NAMES)
    if unknown:
        raise ValueError(f"timeouts of {assignment!r} for unknown profiles {sorted(unknown)}")
    if not all(isinstance(t, Timeouts) for t in (timeouts or {}).values()):
        raise TypeError(f"timeouts of {assignment!r} must be Timeouts instances")
    _TIMEOUTS[assignment] = {name: (timeouts or {}).get(name, DEFAULT_TIMEOUTS) for name in PROFILE_NAMES}


def grading_timeouts(assignment: str, profile: str) -> Timeouts:
    """How long grading waits for a submission of ``assignment`` graded in ``profile`` (:func:`register`'s
    ``timeouts``); :data:`DEFAULT_TIMEOUTS` for a notebook that is none of the course's assignments."""
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILE_NAMES)}")
    if assignment in ASSIGNMENT_MODULES:
        get_profile(assignment, "fast")  # imports its profile module, which registers it
    return _TIMEOUTS.get(assignment, {}).get(profile, DEFAULT_TIMEOUTS)


def full_profile_costs() -> dict[str, str]:
    """Assignment -> what its full profile costs on one GPU (:func:`register`'s ``cost``), for every assignment."""
    for assignment in ASSIGNMENT_MODULES:
        get_profile(assignment, "fast")  # imports its profile module, which registers it
    return {a: _COST[a] for a in ASSIGNMENT_MODULES}


def smoke_mode(env: dict[str, str] | None = None) -> bool:
    """Whether ``COURSE_SMOKE`` asks for smoke mode: ``1``/``true``/``yes`` on, unset/``0``/``false``/``no`` off.

    Grading never runs in smoke mode: under the grader (which sets ``COURSE_REQUIRE_PROFILE``, see
    :mod:`course_lib.checkpoints`) this is False whatever ``COURSE_SMOKE`` says, so a grading machine
    with the switch left on still measures the profile's full sample counts.

    Raises:
        ValueError: any other value (a typo must not run hours of full-profile training).
    """
    env = os.environ if env is None else env
    value = env.get(SMOKE_ENV, "").strip().lower()
    if value in ("", "0", "false", "no") or env.get("COURSE_REQUIRE_PROFILE", "").strip():
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{SMOKE_ENV} must be 1 (smoke mode: the full profile, shortened) or 0, got {value!r}")


def smoke_settings(assignment: str) -> dict[str, Any]:
    """The fields smoke mode replaces in ``assignment``'s full profile (see :func:`register`)."""
    get_profile(assignment, "fast")  # imports and registers the assignment's module
    return dict(_SMOKE[assignment])


def get_profile(assignment: str, name: str | None = None, **overrides: Any) -> Any:
    """Return the profile of ``assignment`` (the active one unless ``name`` is given).

    Keyword overrides replace fields through :func:`override`, which rejects unknown keys and
    wrong types.
    """
    if assignment not in ASSIGNMENT_MODULES:
        raise ValueError(f"unknown assignment {assignment!r}; expected one of {', '.join(ASSIGNMENT_MODULES)}")
    if assignment not in _REGISTRY:
        try:
            importlib.import_module(f"course_lib.assignments.{ASSIGNMENT_MODULES[assignment]}.profile")
        except ModuleNotFoundError as exc:
            raise ValueError(f"assignment {assignment!r} has no profiles yet ({exc})") from exc
    name = active_profile_name() if name is None else name
    if name not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILE_NAMES)}")
    cfg = _REGISTRY[assignment][name]
    if name == "full" and smoke_mode():
        cfg = override(cfg, **_SMOKE[assignment])
    env_changes = env_overrides().get(assignment)
    if env_changes:
        cfg = override(cfg, **env_changes)
    return override(cfg, **overrides)


def env_overrides(env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The checked ``COURSE_PROFILE_OVERRIDES`` (assignment -> {field: value}); ``{}`` when unset.

    Raises:
        ValueError: for text that is not a JSON object of objects, or an unknown assignment.
    """
    env = os.environ if env is None else env
    text = env.get(OVERRIDES_ENV, "").strip()
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f'{OVERRIDES_ENV} is not valid JSON ({exc}); expected e.g. \'{{"02_vae": {{"seed": 3}}}}\''
        ) from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{OVERRIDES_ENV} must map assignment -> {{field: value}}, got {text!r}")
    unknown = set(data) - set(ASSIGNMENT_MODULES)
    if unknown:
        raise ValueError(
            f"{OVERRIDES_ENV} names unknown assignments {sorted(unknown)}; "
            f"expected some of {', '.join(ASSIGNMENT_MODULES)}"
        )
    return {a: {k: _from_json(v) for k, v in changes.items()} for a, changes in data.items()}


def _from_json(value: Any) -> Any:
    return tuple(_from_json(v) for v in value) if isinstance(value, list) else value


def override(cfg: Any, **changes: Any) -> Any:
    """Return a copy of the frozen dataclass ``cfg`` with ``changes`` applied, checked.

    Raises:
        KeyError: for a field the dataclass does not have (the message lists the valid ones).
        TypeError: for a value whose type does not match the field's annotation.
    """
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    hints = typing.get_type_hints(type(cfg))
    for key, value in changes.items():
        if key not in fields:
            raise KeyError(f"{type(cfg).__name__} has no setting {key!r}; valid settings: {', '.join(fields)}")
        if not _matches(value, hints[key]):
            raise TypeError(
                f"{type(cfg).__name__}.{key} expects {_type_name(hints[key])}, got {type(value).__name__} ({value!r})"
            )
    return dataclasses.replace(cfg, **changes)


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(args) == len(value) and all(_matches(v, a) for v, a in zip(value, args))
    if origin is not None:
        return isinstance(value, origin)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))
