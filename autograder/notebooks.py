"""Run notebooks headless, and pull the functions a notebook defines into Python for tests."""
from __future__ import annotations

import os
import types
from pathlib import Path

import nbformat


def run_notebook(path: Path, *, timeout: int = 1200, env: dict[str, str] | None = None, save_to: Path | None = None) -> nbformat.NotebookNode:
    """Execute ``path`` top to bottom in its own folder (a failing cell raises); return the executed notebook."""
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    if save_to is not None:
        nbformat.write(nb, save_to)
    return nb


def is_answer_cell(cell) -> bool:
    """An nbgrader "autograded answer" cell: solution code, not a test."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("solution", False) and not meta.get("grade", False)


def load_functions(path: Path, name: str | None = None) -> types.ModuleType:
    """Execute a notebook's first code cell (its imports) and every answer cell into a module.

    This is how the tests reach the solution's functions to check them against independent
    references, without running the notebook's training cells.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code:
        raise ValueError(f"{path} has no code cells")
    module = types.ModuleType(name or path.stem)
    module.__file__ = str(path)
    cells = [code[0]] + [c for c in code[1:] if is_answer_cell(c)]
    for cell in cells:
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        exec(compile(source, f"{path.name}:cell", "exec"), module.__dict__)
    return module
