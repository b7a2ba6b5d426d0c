"""From a student's notebook and the judge's verdicts to what nbgrader stores and shows.

* :func:`skeleton`: the student's notebook as the grader runs it. Every locked or graded cell is the
  release's (the student's copy of it is ignored), a graded cell the student deleted is put back where
  the release has it, each answer cell keeps the student's source under the release's metadata, and the
  student's own cells keep their source with no nbgrader metadata. Outputs are cleared. Only the
  instructor's notebooks decide what is graded and for how many points.
* :func:`graded_notebook`: the skeleton with outputs for nbgrader to store: each ordinary cell shows
  what it printed when the notebook ran in the sandbox (plain text and PNG images only, capped, as
  untrusted text), each graded cell shows the judge's output and, when it failed, an error with the
  judge's reason. Graded cells show their visible code only: no hidden test reaches feedback.
* :class:`InjectResults`: an nbgrader preprocessor, used in place of ``Execute`` when ``nbgrader
  autograde`` runs in the trusted course folder, that swaps in the graded notebook; nbgrader's own
  ``SaveAutoGrades`` then scores each graded cell from it (error output: 0, else full points) and
  writes the gradebook, so the formgrader, feedback and export work as usual.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
from pathlib import Path

import nbformat

from .notebooks import nbgrader_meta, visible_part

GRADED_DIR_ENV = "DGM_GRADED_NOTEBOOKS"  # <dir>/<student>/<assignment>/<notebook>.ipynb
MAX_TEXT = 20_000  # characters per output
MAX_OUTPUTS = 30  # per cell
MAX_PNG = 2 * 2**20  # bytes of one image


def _plain_cell(cell):
    kind = cell.get("cell_type")
    source = cell.get("source", "")
    source = source if isinstance(source, str) else "".join(source)
    if kind == "markdown":
        return nbformat.v4.new_markdown_cell(source)
    if kind == "raw":
        return nbformat.v4.new_raw_cell(source)
    return nbformat.v4.new_code_cell(source)


def _release_cell(cell, source: str | None = None):
    new = copy.deepcopy(cell)
    if source is not None:
        new.source = source
    if new.cell_type == "code":
        new.outputs, new.execution_count = [], None
    new.pop("id", None)
    return new


def skeleton(student_nb, release_nb):
    """The notebook to run and to store for this student (see the module docstring)."""
    release_cells = list(release_nb.cells)
    by_id = {nbgrader_meta(c)["grade_id"]: c for c in release_cells if nbgrader_meta(c).get("grade_id")}
    out, seen = [], set()
    for cell in student_nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in by_id and gid not in seen:
            seen.add(gid)
            rel = by_id[gid]
            meta = nbgrader_meta(rel)
            if meta.get("solution") and not meta.get("locked"):
                source = cell.get("source", "")
                out.append(_release_cell(rel, source if isinstance(source, str) else "".join(source)))
            else:
                out.append(_release_cell(rel))
        else:
            out.append(_plain_cell(cell))
    # put back the nbgrader cells the student deleted, after the release cell that precedes them
    for i, rel in enumerate(release_cells):
        gid = nbgrader_meta(rel).get("grade_id")
        if not gid or gid in seen:
            continue
        seen.add(gid)
        anchor = 0
        for prev in reversed(release_cells[:i]):
            pid = nbgrader_meta(prev).get("grade_id")
            positions = [k for k, c in enumerate(out) if pid and nbgrader_meta(c).get("grade_id") == pid]
            if positions:
                anchor = positions[0] + 1
                break
        out.insert(anchor, _release_cell(rel))
    for cell in out:
        cell.pop("id", None)
    # nbformat 4.4 (cell ids, 4.5, would only change between runs); built empty, as new_notebook validates
    # what it is given as 4.5 and warns about every cell without an id
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(release_nb.metadata))
    nb.nbformat_minor = 4
    nb.cells = out
    return nb


def _text(value) -> str:
    text = (
        value
        if isinstance(value, str)
        else "".join(v for v in value if isinstance(v, str))
        if isinstance(value, list)
        else ""
    )
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"\n... ({len(text) - MAX_TEXT} more characters)"


def clean_outputs(outputs) -> list:
    """Outputs a sandboxed run produced, reduced to what is safe to store and render: text streams,
    plain-text and PNG displays, and errors (name, message, traceback as text)."""
    clean = []
    for out in outputs if isinstance(outputs, list) else []:
        if len(clean) >= MAX_OUTPUTS:
            clean.append(nbformat.v4.new_output("stream", name="stdout", text="(more output not shown)\n"))
            break
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream":
            name = "stderr" if out.get("name") == "stderr" else "stdout"
            clean.append(nbformat.v4.new_output("stream", name=name, text=_text(out.get("text", ""))))
        elif kind in ("display_data", "execute_result"):
            data = out.get("data") if isinstance(out.get("data"), dict) else {}
            keep = {}
            if isinstance(data.get("text/plain"), (str, list)):
                keep["text/plain"] = _text(data["text/plain"])
            png = data.get("image/png")
            if isinstance(png, str) and len(png) <= MAX_PNG * 4 // 3 + 8:
                try:
                    raw = base64.b64decode(png, validate=False)
                    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
                        keep["image/png"] = base64.b64encode(raw).decode()
                except (binascii.Error, ValueError):
                    pass
            if keep:
                clean.append(nbformat.v4.new_output("display_data", data=keep))
        elif kind == "error":
            tb = out.get("traceback") if isinstance(out.get("traceback"), list) else []
            clean.append(
                nbformat.v4.new_output(
                    "error",
                    ename=_text(str(out.get("ename", "Error")))[:200],
                    evalue=_text(str(out.get("evalue", ""))),
                    traceback=[_text(str(line)) for line in tb[-40:]],
                )
            )
    return clean


def first_failure(cells) -> str:
    """'ErrorName: first line' of the first ungraded cell whose run ended in an error ('' if none)."""
    for cell in cells:
        if cell.get("cell_type") != "code" or nbgrader_meta(cell).get("grade"):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                lines = str(out.get("evalue", "")).strip().splitlines()
                return f"{out.get('ename')}: {lines[0][:300] if lines else ''}".rstrip(": ")
    return ""


def graded_notebook(skel, executed, verdicts: dict, *, notes: list[str] = ()):
    """The skeleton with the run's outputs and the judge's verdicts (see the module docstring).

    ``executed`` is the notebook the sandbox ran (untrusted): its outputs are used only where it has
    the skeleton's cells, in the same order with the same sources. ``notes`` become a markdown cell at
    the top (files the upload could not include, a run that stopped early).
    """
    nb = copy.deepcopy(skel)
    ran = executed.cells if executed is not None and len(executed.cells) == len(nb.cells) else None
    earlier = ""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            verdict = verdicts.get(
                meta.get("grade_id"),
                {"kind": "error", "ename": "NotGraded", "evalue": "the grader did not reach this cell"},
            )
            cell.source = visible_part(cell.source)
            outputs = []
            if verdict.get("stdout"):
                outputs.append(nbformat.v4.new_output("stream", name="stdout", text=_text(verdict["stdout"])))
            if verdict.get("kind") != "passed":
                ename, evalue = str(verdict.get("ename", "Error")), str(verdict.get("evalue", ""))
                if earlier and meta.get("grade_id", "").startswith("test_threshold_"):
                    evalue += f"\n(an earlier cell of your notebook failed while it ran: {earlier})"
                outputs.append(
                    nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])
                )
            cell.outputs = outputs
            continue
        if ran is not None and isinstance(ran[i], dict) and ran[i].get("source") == cell.source:
            cell.outputs = clean_outputs(ran[i].get("outputs"))
            count = ran[i].get("execution_count")
            cell.execution_count = count if isinstance(count, int) else None
            earlier = earlier or first_failure([ran[i]])
    if notes:
        text = "**Grading notes**\n\n" + "\n".join(f"- {escape_markdown(n)}" for n in notes)
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
    for cell in nb.cells:  # nbformat 4.4 has no cell ids
        cell.pop("id", None)
    nb.nbformat_minor = 4
    return nb


def escape_markdown(text: str) -> str:
    """Text safe to put in a markdown cell: no HTML, no markdown markup."""
    table = {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "*": r"\*",
        "_": r"\_",
        "`": r"\`",
        "[": r"\[",
        "]": r"\]",
        "#": r"\#",
        "|": r"\|",
        "$": r"\$",
    }
    return "".join(table.get(c, c) for c in text)


def neutralize_markdown(nb) -> None:
    """Student-written markdown shown in feedback and in the formgrader must not carry HTML (a script
    would run in the TA's browser): its raw HTML is escaped, the markdown itself is kept."""
    from .feedback import escape_text

    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type in ("markdown", "raw") and not meta.get("locked"):
            cell.source = escape_text(cell.source)
            if cell.cell_type == "raw":
                cell.cell_type = "markdown"
                cell.pop("outputs", None)


try:
    from nbgrader.preprocessors import NbGraderPreprocessor as _Base
except ImportError:  # pragma: no cover - nbgrader is a dependency of the grader
    _Base = object


class InjectResults(_Base):
    """nbgrader preprocessor: replace the notebook being autograded with the trusted graded notebook
    written for this student (in ``$DGM_GRADED_NOTEBOOKS``); fail loudly when there is none."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        root = os.environ.get(GRADED_DIR_ENV)
        if not root:
            raise RuntimeError(f"{GRADED_DIR_ENV} is not set: autograde through `python -m autograder grade`")
        path = Path(root) / info["student"] / info["assignment"] / f"{info['notebook']}.ipynb"
        if not path.is_file():
            raise RuntimeError(f"no graded notebook at {path}")
        return nbformat.read(path, as_version=4), resources


def read_executed(data: bytes):
    """The executed notebook a sandbox returned, or None when it is not a notebook."""
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:  # noqa: BLE001 - untrusted bytes
        return None


def dumps(nb) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False)
