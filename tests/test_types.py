"""Type hints on course_lib's public functions (issue 16, item 4).

Every function and method of course_lib whose name does not start with ``_`` (methods of public classes,
the profile dataclasses' methods and helpers nested inside other functions included) annotates each
parameter except ``self`` / ``cls``, and its return type. The check reads the source with ``ast``, so it
imports nothing and a new unannotated public function fails here; whether the annotations are right is
for a type checker (``mypy course_lib --ignore-missing-imports``), which CI does not run.
"""

from __future__ import annotations

import ast
from pathlib import Path

COURSE_LIB = Path(__file__).resolve().parent.parent / "course_lib"


def _unannotated() -> tuple[list[str], int]:
    """``path:line name (what is missing)`` of each public function lacking a hint, and how many were scanned."""
    missing, scanned = [], 0
    for path in sorted(COURSE_LIB.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
                continue
            scanned += 1
            args = [a for a in node.args.args + node.args.kwonlyargs if a.arg not in ("self", "cls")]
            bad = [a.arg for a in args if a.annotation is None]
            if node.returns is None or bad:
                what = ([] if node.returns else ["return"]) + bad
                missing.append(f"{path.relative_to(COURSE_LIB.parent)}:{node.lineno} {node.name} ({', '.join(what)})")
    return missing, scanned


def test_public_functions_of_course_lib_are_annotated():
    missing, scanned = _unannotated()
    assert scanned > 200  # the scan found the library's functions
    assert missing == [], "annotate every parameter and the return type of:\n" + "\n".join(missing)
