"""Run notebooks headless, and pull the functions a notebook defines into Python for tests."""
from __future__ import annotations

import os
import types
from pathlib import Path

import nbformat


def run_notebook(path: Path, *, timeout: int = 1200, env: dict[str, str] | None = None, save_to: Path | None = None,
                 allow_errors: bool = False) -> nbformat.NotebookNode:
    """Execute ``path`` top to bottom in its own folder; return the executed notebook.

    Args:
        env: variables added to this process's environment for the kernel.
        allow_errors: record a failing cell's error in its outputs and go on (as nbgrader's autograding
            does; see :func:`cell_errors`) instead of raising at the first one.
    """
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=dict(os.environ, **(env or {})))
    if save_to is not None:
        nbformat.write(nb, save_to)
    return nb


def cell_errors(nb: nbformat.NotebookNode) -> list[dict[str, str]]:
    """The cells of an executed notebook that raised: ``{"cell": grade_id or "cell <index>", "ename", "evalue"}``."""
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if o.get("output_type") == "error":
                gid = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}"
                out.append({"cell": gid, "ename": o.get("ename", ""), "evalue": str(o.get("evalue", ""))[:400]})
    return out


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
