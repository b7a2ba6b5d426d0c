"""Does code meant for students contain an answer? Solution bodies compared by normalised syntax tree.

Grepping for ``### BEGIN SOLUTION`` finds only answers pasted with their markers. :func:`solution_bodies`
parses each answer cell of the instructor notebooks, takes the code between the solution markers, and
normalises it (docstrings dropped, local names renamed in order of appearance, attribute names and
constants kept: ``torch.logsumexp(y, dim=dim) - math.log(...)`` stays recognisable under any variable
names). :func:`find` reports every function in the given sources whose body contains one of those
normalised bodies as a run of consecutive statements.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .notebooks import between, is_answer_cell

MIN_NODES = 12  # shorter bodies (``return lambda epoch: value``) are too generic to call a leak


class _Rename(ast.NodeTransformer):
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _new(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name):
        return ast.copy_location(ast.Name(id=self._new(node.id), ctx=node.ctx), node)

    def visit_arg(self, node: ast.arg):
        node.arg = self._new(node.arg)
        node.annotation = None
        return node


def _normalise(stmts: list[ast.stmt]) -> list[str]:
    stmts = [
        s
        for s in stmts
        if not (
            isinstance(s, ast.Expr)
            and isinstance(getattr(s, "value", None), ast.Constant)
            and isinstance(s.value.value, str)
        )
    ]
    module = _Rename().visit(ast.Module(body=[ast.parse(ast.unparse(s)).body[0] for s in stmts], type_ignores=[]))
    return [ast.dump(s, annotate_fields=False) for s in module.body]


def _solution_code(source: str) -> str:
    return between(source, "### BEGIN SOLUTION", "### END SOLUTION")


def solution_bodies(solutions: Path) -> dict[str, list[str]]:
    """``"<assignment>:<function>"`` -> the normalised statements of its solution body."""
    import nbformat

    bodies: dict[str, list[str]] = {}
    for path in sorted(Path(solutions).glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if not is_answer_cell(cell):
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in tree.body:
                if not isinstance(node, ast.FunctionDef):
                    continue
                code = _solution_code(ast.get_source_segment(cell.source, node) or "")
                try:
                    stmts = ast.parse(_dedent(code)).body
                except SyntaxError:
                    continue
                if sum(1 for _ in ast.walk(ast.Module(body=stmts, type_ignores=[]))) >= MIN_NODES:
                    bodies[f"{path.stem}:{node.name}"] = _normalise(stmts)
    return bodies


def _dedent(code: str) -> str:
    import textwrap

    return textwrap.dedent(code)


def _functions(source: str):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            body = node.body if isinstance(node.body, list) else [ast.Return(value=node.body)]
            yield getattr(node, "name", "<lambda>"), body


def find(sources: dict[str, str], bodies: dict[str, list[str]]) -> list[str]:
    """``"<file>:<function> holds the solution of <assignment>:<function>"`` for every solution body
    found, as consecutive statements, in a function of ``sources`` (each window normalised on its own,
    so the names before it do not shift the renaming)."""
    found = []
    lengths = sorted({len(b) for b in bodies.values()})
    for filename, source in sources.items():
        for name, body in _functions(source):
            body = [
                s
                for s in body
                if not (
                    isinstance(s, ast.Expr)
                    and isinstance(getattr(s, "value", None), ast.Constant)
                    and isinstance(s.value.value, str)
                )
            ]
            for n in lengths:
                for i in range(len(body) - n + 1):
                    try:
                        window = _normalise(body[i : i + n])
                    except (SyntaxError, ValueError):
                        continue
                    for key, solution in bodies.items():
                        if window == solution:
                            found.append(f"{filename}:{name} holds the solution of {key}")
    return found
