"""Attempts to tamper with grading, flagged for the instructor (they change no points).

The judge never runs student code, so patching comparison helpers, hooking the kernel or shadowing
modules gains nothing; instructors still want to know who tried. :func:`scan` reads the code a student
wrote (answer cells, and code cells that are not the release's) and names, per cell, constructs that
have no business in a homework answer: assigning attributes of imported modules (``torch.allclose =``),
redefining exceptions or builtins, kernel and interpreter hooks (custom exception handlers, IPython
events, tracing and audit hooks, ``sys.modules``), process, signal, network and ``ctypes`` use, leaving
the process (``os._exit``), importing the instructor's packages, and file access outside the working
folder. :func:`audit_flags` turns the sandbox's audit log (:mod:`autograder.sandboxed.runner`) into
the same kind of line. Both are hints: a flag names the cell, an instructor decides.
"""

from __future__ import annotations

import ast
import json

SUSPICIOUS_MODULES = {
    "ctypes",
    "subprocess",
    "socket",
    "signal",
    "builtins",
    "gc",
    "inspect",
    "importlib",
    "atexit",
    "pty",
    "resource",
    "multiprocessing",
    "autograder",
    "nbgrader",
    "sandboxed",
    "IPython",
}
SHADOWED = {
    "AssertionError",
    "Exception",
    "BaseException",
    "isinstance",
    "__builtins__",
    "__import__",
    "getattr",
    "print",
    "abs",
    "float",
    "all",
    "any",
    "len",
    "type",
    "RuntimeError",
    "ValueError",
}
CALLS = {
    ("sys", "settrace"),
    ("sys", "setprofile"),
    ("sys", "addaudithook"),
    ("sys", "_getframe"),
    ("os", "_exit"),
    ("os", "fork"),
    ("os", "forkpty"),
    ("os", "setsid"),
    ("os", "kill"),
    ("os", "killpg"),
    ("os", "system"),
    ("os", "popen"),
    ("os", "execv"),
    ("os", "execvp"),
    ("os", "execl"),
    ("os", "dup2"),
    ("threading", "settrace"),
}
IPYTHON_METHODS = {
    "set_custom_exc",
    "register",
    "register_magics",
    "run_line_magic",
    "run_cell_magic",
    "system",
    "ex",
    "ev",
    "push",
    "showtraceback",
}
MAGICS = ("%config", "%load_ext", "%%capture", "%run", "%%bash", "%%sh", "%%script", "%system", "%env", "%store")
PATH_HINTS = (
    "gradebook",
    "nbgrader_config",
    "/source/",
    "solutions/",
    "autograder",
    ".ipython",
    "/proc/",
    "/etc/",
    "feedback/",
    "autograded/",
    "grades.csv",
)


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    return ".".join(reversed(parts))


def module_aliases(sources: list[str]) -> set[str]:
    """Names bound by import statements in these sources (``np`` for ``import numpy as np``...)."""
    names = {"sys", "os", "builtins", "torch", "np", "numpy", "math"}
    for source in sources:
        try:
            tree = ast.parse(_strip(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names |= {a.asname or a.name for a in node.names}
    return names


def _strip(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def scan_source(source: str, aliases: set[str]) -> list[str]:
    """What looks like tampering in one cell's code (short descriptions, each once)."""
    found: list[str] = []

    def flag(text: str) -> None:
        if text not in found:
            found.append(text)

    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(MAGICS) or stripped.startswith("!"):
            flag(f"runs the magic or shell command {stripped.split()[0]!r}")
    try:
        tree = ast.parse(_strip(source))
    except SyntaxError:
        return found
    shells = {"get_ipython()"}  # names bound to the IPython shell (``ip = get_ipython()``)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and _dotted(node.value.func) == "get_ipython"
        ):
            shells |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    aliases = set(aliases) | (shells - {"get_ipython()"})
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for t in ast.walk(target):
                    if isinstance(t, ast.Attribute) and _root_name(t) in aliases:
                        flag(f"replaces {_dotted(t)}")
                    elif isinstance(t, ast.Subscript) and _dotted(t.value) in ("sys.modules", "__builtins__"):
                        flag(f"changes {_dotted(t.value)}")
                    elif isinstance(t, ast.Name) and t.id in SHADOWED:
                        flag(f"redefines the builtin {t.id}")
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in SHADOWED:
            flag(f"redefines the builtin {node.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in SUSPICIOUS_MODULES:
                    flag(f"imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in SUSPICIOUS_MODULES:
                flag(f"imports from {node.module}")
        elif isinstance(node, ast.Call):
            func = node.func
            dotted = _dotted(func)
            parts = tuple(dotted.split("."))
            if (
                isinstance(func, ast.Name)
                and func.id in ("setattr", "delattr")
                and node.args
                and _root_name(node.args[0]) in aliases
            ):
                flag(f"calls {func.id} on {_dotted(node.args[0])}")
            elif isinstance(func, ast.Name) and func.id in ("exec", "eval", "compile", "__import__"):
                flag(f"calls {func.id}")
            elif len(parts) >= 2 and parts[-2:] in CALLS:
                flag(f"calls {'.'.join(parts[-2:])}")
            elif (parts[0] in shells or "get_ipython()" in dotted) and parts[-1] in IPYTHON_METHODS:
                flag(f"calls {dotted} (the kernel's shell)")
            elif dotted.endswith("events.register"):
                flag(f"registers a kernel event hook ({dotted})")
            if isinstance(func, ast.Name) and func.id == "open" or dotted in ("os.open", "io.open", "pathlib.Path"):
                for arg in node.args[:1]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        path = arg.value
                        if path.startswith("/") or ".." in path.split("/") or any(h in path for h in PATH_HINTS):
                            flag(f"opens {path!r}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(h in node.value for h in ("gradebook.db", "nbgrader_config", "/source/", "grades.csv")):
                flag(f"mentions {node.value[:60]!r}")
        elif isinstance(node, ast.Attribute) and _dotted(node) in ("sys.excepthook", "sys.modules", "sys.path"):
            if _dotted(node) != "sys.path":
                flag(f"uses {_dotted(node)}")
    return found


def scan(cells: list[tuple[int, str, str]], release_sources: list[str]) -> list[str]:
    """Flags for ``(index, label, source)`` student code cells; code identical to a release cell is skipped."""
    known = {s.strip() for s in release_sources}
    aliases = module_aliases([*release_sources, *(s for _, _, s in cells)])
    flags = []
    for index, label, source in cells:
        if source.strip() in known:
            continue
        for text in scan_source(source, aliases):
            flags.append(f"cell {index} ({label}): {text}")
    return flags


def audit_flags(log: bytes, cell_of_count: dict[int, int], *, limit: int = 50) -> list[str]:
    """Lines for the sandbox's audit log (untrusted: malformed lines are skipped). Only events of the
    cells in ``cell_of_count`` (execution count -> cell index: the student's cells) are reported."""
    flags: list[str] = []
    for line in log.decode(errors="replace").splitlines()[:5000]:
        try:
            entry = json.loads(line)
            event, detail = str(entry["event"])[:60], str(entry.get("detail", ""))[:200]
            count = entry.get("cell")
        except (ValueError, KeyError, TypeError):
            continue
        if not (isinstance(count, int) and count in cell_of_count):
            continue
        text = f"cell {cell_of_count[count]} (while the notebook ran): {event} {detail}"
        if text not in flags:
            flags.append(text)
        if len(flags) >= limit:
            flags.append("(more events not shown)")
            break
    return flags
