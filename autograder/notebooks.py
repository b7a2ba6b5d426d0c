"""Run notebooks headless, and pull the functions a notebook defines into Python for tests."""

from __future__ import annotations

import os
import types
from pathlib import Path

import nbformat


def run_notebook(
    path: Path,
    *,
    timeout: int = 1200,
    env: dict[str, str] | None = None,
    save_to: Path | None = None,
    allow_errors: bool = False,
) -> nbformat.NotebookNode:
    """Execute ``path`` top to bottom in its own folder; return the executed notebook.

    Args:
        env: variables added to this process's environment for the kernel.
        allow_errors: record a failing cell's error in its outputs and go on (as nbgrader's autograding
            does; see :func:`cell_errors`) instead of raising at the first one.
    """
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    )
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


# ------------------------------------------------------------------------ the parts the grader uses

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
THRESHOLD_PREFIX = "test_threshold_"


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def setup_source(nb) -> str:
    """The notebook's first code cell: its imports and profile (the judge and the probe run it first)."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code:
        raise ValueError("the notebook has no code cell")
    return code[0].source


def graded_cells(nb) -> list:
    """The graded code cells (nbgrader ``grade: true``), in notebook order."""
    return [c for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("grade")]


def between(source: str, begin: str, end: str) -> str:
    """The lines between each ``begin`` and ``end`` marker line ('' if there are none)."""
    inside, out = False, []
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            out.append(line)
    return "\n".join(out)


def hidden_part(source: str) -> str:
    """The code between the hidden-test markers ('' if there are none)."""
    return between(source, HIDDEN_BEGIN, HIDDEN_END)


def visible_part(source: str) -> str:
    """The code outside the hidden-test markers (what a student's notebook shows)."""
    lines, inside, out = source.splitlines(), False, []
    for line in lines:
        if line.strip() == HIDDEN_BEGIN:
            inside = True
        elif line.strip() == HIDDEN_END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def judge_code(cell) -> str:
    """What the trusted judge runs for a graded cell: a threshold cell's hidden part alone (its visible
    part reads the student's notebook state), any other test cell whole."""
    if nbgrader_meta(cell).get("grade_id", "").startswith(THRESHOLD_PREFIX):
        return hidden_part(cell.source)
    return "\n".join(line for line in cell.source.splitlines() if line.strip() not in (HIDDEN_BEGIN, HIDDEN_END))


def defined_names(source: str) -> list[str]:
    """Top-level names a cell defines (functions, classes, assignments, imports)."""
    import ast

    try:
        tree = ast.parse("\n".join("" if l.lstrip().startswith(("%", "!")) else l for l in source.splitlines()))
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return names


def answer_ids(source_nb) -> list[str]:
    """grade_ids of the instructor notebook's answer cells, in order."""
    return [nbgrader_meta(c)["grade_id"] for c in source_nb.cells if is_answer_cell(c)]


def student_answers(student_nb, source_nb) -> list[tuple[str, str]]:
    """``(grade_id, source)`` of the student's answer cells: the code cells whose grade_id is one of the
    instructor notebook's answer cells (the first of each id; the student's own metadata decides nothing
    else), in the instructor notebook's order. A missing answer cell is simply absent."""
    wanted = answer_ids(source_nb)
    found: dict[str, str] = {}
    for cell in student_nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if cell.get("cell_type") == "code" and gid in wanted and gid not in found:
            found[gid] = cell.source if isinstance(cell.source, str) else "".join(cell.source)
    return [(gid, found[gid]) for gid in wanted if gid in found]


def function_names(source_nb) -> list[str]:
    """The names the instructor notebook's answer cells define: the student functions a test calls."""
    names = []
    for cell in source_nb.cells:
        if is_answer_cell(cell):
            names += [n for n in defined_names(cell.source) if n not in names]
    return names
