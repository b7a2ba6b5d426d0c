"""Feedback pages that need no network and carry no script: maths rendered to MathML beforehand.

nbconvert's HTML loads MathJax from a CDN to typeset ``$...$``; feedback must render offline. The
:class:`RenderMathOffline` preprocessor (part of ``generate_feedback`` in the grading course) turns the
maths of every markdown cell into MathML with latex2mathml, which browsers draw natively, and
:func:`finish` removes the MathJax script from the pages and every file but the HTML from the
feedback folder (nbgrader copies the autograded folder's other files along). :func:`escape_text`
makes a student's markdown safe to show (its HTML is escaped, its maths kept for rendering).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from latex2mathml.converter import convert
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

_CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
_MATH = re.compile(r"(?<!\\)(\$\$.+?\$\$|\$[^$\n]+?\$|\\\[.+?\\\]|\\\(.+?\\\))", re.S)
_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.S | re.I)


def segments(text: str) -> list[tuple[str, str]]:
    """Split markdown into ``("code" | "math" | "text", piece)``, code spans and blocks first."""
    out: list[tuple[str, str]] = []
    for i, part in enumerate(_CODE.split(text)):
        if i % 2:
            out.append(("code", part))
            continue
        for j, piece in enumerate(_MATH.split(part)):
            if piece:
                out.append(("math" if j % 2 else "text", piece))
    return out


def mathml(tex: str) -> str:
    """MathML for one ``$...$`` / ``$$...$$`` / ``\\(...\\)`` / ``\\[...\\]`` piece (escaped code if it fails)."""
    display = tex.startswith(("$$", "\\["))
    inner = tex[2:-2] if display or tex.startswith("\\(") else tex[1:-1]
    try:
        return convert(inner.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - maths latex2mathml cannot parse is shown as its source
        return f"<code>{html.escape(tex)}</code>"


def render(text: str) -> str:
    """Markdown with its maths replaced by MathML (code spans untouched)."""
    return "".join(mathml(piece) if kind == "math" else piece for kind, piece in segments(text))


def escape_text(text: str) -> str:
    """A student's markdown with its HTML escaped outside maths and code (maths stays for rendering)."""
    return "".join(html.escape(piece, quote=False) if kind == "text" else piece for kind, piece in segments(text))


class RenderMathOffline(Preprocessor):
    """nbconvert preprocessor: render every markdown cell's maths to MathML."""

    # nbconvert runs a registered preprocessor only when it is enabled (its default is off)
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = render(cell.source)
        return cell, resources


def finish(folder: Path) -> None:
    """Keep only the HTML pages under a feedback folder and strip their remote scripts."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)):
        if path.is_symlink() or (path.is_file() and path.suffix != ".html"):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        elif path.is_file():
            page = path.read_text(errors="replace")
            cleaned = _REMOTE_SCRIPT.sub("", _MATHJAX.sub("", page))
            if cleaned != page:
                path.write_text(cleaned)
