"""One package per assignment: ``course_lib/assignments/<short>/`` holds what its notebook imports.

Each package's ``__init__`` names the assignment it serves (``ASSIGNMENT = "02_vae"``, the folder of
its notebook under solutions/ and notebooks/) and holds three modules:

* ``profile.py``: the frozen profile dataclass and its two flavours (``register(...)``, see
  :mod:`course_lib.profiles`);
* ``train.py``: the training loop and the harness the visible checks call;
* ``widgets.py``: the notebook's ipywidgets, each a plain function core plus sliders.

The instructor side mirrors it in ``autograder/assignments/<short>/`` (reference evaluators, common
mistakes, calibration spec). Assignments are found by :func:`discover`: adding one adds its folders
and touches no shared file (docs/ARCHITECTURE.md, "Adding an assignment").
"""

from __future__ import annotations

import importlib
import pkgutil


def discover() -> dict[str, str]:
    """Every assignment package here: assignment name (e.g. ``"02_vae"``) -> package name (``"vae"``),
    in course order (sorted by assignment name)."""
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg or info.name.startswith("_"):
            continue
        package = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(package, "ASSIGNMENT", None)
        if not isinstance(name, str):
            raise ImportError(
                f"course_lib/assignments/{info.name}/__init__.py must set ASSIGNMENT = '<nn_name>' "
                "(the folder name of its notebook)"
            )
        if name in found:
            raise ImportError(f"assignment {name!r} is claimed by two packages: {found[name]} and {info.name}")
        found[name] = info.name
    return dict(sorted(found.items()))
