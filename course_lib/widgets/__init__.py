"""ipywidgets for the notebooks. Each widget has a plain-function core (``*_frame`` functions) that
returns the image or figure for one slider value, so tests call it without a browser; the widget
itself only wires sliders to that core. Without a front end (nbconvert, CI logs) ``interactive_or_static``
shows the core's output for the default value instead."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def has_frontend() -> bool:
    """True inside a live Jupyter front end (not under nbconvert/nbclient/nbgrader execution)."""
    if os.environ.get("NBGRADER_EXECUTION") or os.environ.get("COURSE_STATIC_WIDGETS") == "1":
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def interactive_or_static(frame: Callable[..., Any], **sliders: Any) -> None:
    """Show ``frame`` driven by ``sliders`` (ipywidgets widgets) in a front end, else one static frame.

    Displays the widget (or the static frame) itself and returns None, so it can end a cell without
    being shown twice.

    Args:
        frame: called with the sliders' values as keyword arguments; returns what to show (a
            matplotlib Figure, an image...) or draws it itself.
        sliders: name -> ipywidgets widget (its ``value`` is the static default).
    """
    import ipywidgets as w
    from IPython.display import display

    def shown(**values: Any) -> None:
        out = frame(**values)
        if out is not None:  # a returned figure or image is what the slider redraws
            display(out)

    if not has_frontend():
        shown(**{k: s.value for k, s in sliders.items()})
        return None
    display(w.interactive(shown, **sliders))
    return None
