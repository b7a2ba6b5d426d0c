"""The probe: calls the student's functions for the trusted judge, inside the sandbox.

``python -m sandboxed.probe`` reads request frames on stdin and answers on stdout (see
:mod:`.wire`); before any student code runs it moves the protocol to private file descriptors and
points 0, 1 and 2 at /dev/null and a log, so what the student's code prints cannot mix with the
answers. Requests are pickles written by the trusted judge; answers are :func:`wire.encode`-d plain
data. The requests:

* ``load``: a fresh namespace, the notebook's first code cell (the course's imports, sent by the
  judge from the instructor's source) and then the student's answer cells (one failing cell does not
  stop the others, as in a notebook; a cell that runs past ``cell_timeout`` seconds is interrupted,
  as the notebook's run interrupts it);
* ``put``: keep an object (a model) for later calls, so large arguments cross once per cell;
* ``call``: call one of the student's functions (or an object a call returned, e.g. a schedule
  closure) on the judge's arguments, under the judge's grad mode; answer with the result, which of its
  tensors require grad, and every argument tensor the call changed in place (or whose ``.grad`` it set);
* ``backward``: the gradient of a call's outputs with respect to its differentiable arguments, for the
  judge's ``loss.backward()`` / ``torch.autograd.grad`` through the student's function;
* ``release``: forget the cell's calls, objects and references.

Nothing here is trusted: the judge checks every answer's format and decides from the values alone.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import pickle
import signal
import sys
import traceback

from . import wire

MAX_REQUEST = 1 << 31


class CellTimeout(BaseException):
    """An answer cell ran past the per-cell limit (a BaseException, so ``except Exception`` does not hide it)."""


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Raise :class:`CellTimeout` in the running cell after ``seconds`` (the notebook's per-cell limit; none when
    ``seconds`` is None or 0). The judge's ``_alarm`` does the same on the trusted side, which this package cannot
    import."""
    if not seconds or seconds <= 0:
        yield
        return

    def fire(signum, frame):
        raise CellTimeout(f"this cell ran longer than the limit of {seconds:g} s for one cell, so it was interrupted")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def strip_magics(source: str) -> str:
    """Drop IPython magics and shell lines (``%...``, ``!...``), which plain Python cannot run."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


class Server:
    def __init__(self, rfd: int, wfd: int, token: bytes) -> None:
        import torch

        self.torch = torch
        self.rfd, self.wfd, self.token = rfd, wfd, token
        self.ns: dict = {}
        self.cache: dict = {}
        self.handles: dict[int, object] = {}
        self.calls: dict[int, tuple[list, list]] = {}
        self.next_id = 1

    # -------------------------------------------------------------------------------- plumbing
    def serve(self) -> None:
        while True:
            try:
                kind, payload = wire.read_frame(self.rfd, self.token, max_bytes=MAX_REQUEST)
            except (EOFError, OSError):
                return
            try:
                request = _Unpickler(io.BytesIO(payload), self).load()
                op = request["op"]
                if op == "exit":
                    return
                answer = getattr(self, f"op_{op}")(request)
            except BaseException as exc:  # the student's code may raise anything, SystemExit included
                answer = {"ok": False, "error": describe(exc)}
            try:
                data = wire.encode(answer, remote=self.keep)
            except wire.Unencodable as exc:
                data = wire.encode(
                    {
                        "ok": False,
                        "error": {
                            "type": "TypeError",
                            "message": f"the result holds {exc}, which the grader cannot check: "
                            "return tensors, numbers, strings, tuples, lists or dicts",
                            "traceback": "",
                        },
                    }
                )
            wire.write_frame(self.wfd, b"R", self.token, data)

    def keep(self, obj) -> dict | None:
        """Leave an object the format cannot carry (a function, a module) here; send a reference."""
        ref = self.next_id
        self.next_id += 1
        self.handles[ref] = obj
        return {"id": ref, "type": type(obj).__qualname__, "callable": callable(obj)}

    # -------------------------------------------------------------------------------- requests
    def op_load(self, request) -> dict:
        torch = self.torch
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if threads > 0:
            torch.set_num_threads(threads)
        self.op_release({})
        ns = {"__name__": "__main__", "__builtins__": builtins}
        exec(compile(strip_magics(request["setup"]), "<setup cell>", "exec"), ns)
        errors = {}
        for grade_id, source in request["answers"]:
            filename = f"<answer cell {grade_id}>"
            _register_source(filename, source)
            try:
                with _time_limit(request.get("cell_timeout")):
                    exec(compile(strip_magics(source), filename, "exec"), ns)
            except BaseException as exc:
                errors[grade_id] = describe(exc)
        self.ns = ns
        names = sorted(k for k, v in ns.items() if callable(v) and not k.startswith("__"))
        return {"ok": True, "errors": errors, "names": names}

    def op_put(self, request) -> dict:
        self.cache[request["key"]] = request["obj"]
        return {"ok": True}

    def op_call(self, request) -> dict:
        torch = self.torch
        kind, target = request["target"]
        if kind == "name":
            if target not in self.ns:
                raise NameError(f"name {target!r} is not defined: its answer cell did not define it")
            fn = self.ns[target]
        else:
            fn = self.handles[target]
        args, kwargs = request["args"], request["kwargs"]
        tensors = wire.walk_tensors((args, kwargs))
        before = [(t._version, t.grad) for t in tensors]
        leaves = [t for t in tensors if t.requires_grad]
        with torch.set_grad_enabled(bool(request["grad"])):
            result = fn(*args, **kwargs)
        outs = wire.walk_tensors(result)
        diff = [i for i, t in enumerate(outs) if t.requires_grad]
        sync = []
        for i, (t, (version, grad)) in enumerate(zip(tensors, before)):
            data_changed, grad_changed = t._version != version, t.grad is not grad
            if data_changed or grad_changed:
                sync.append((i, t.detach() if data_changed else None, t.grad if grad_changed else None))
        call = self.next_id
        self.next_id += 1
        if diff and leaves:
            self.calls[call] = ([outs[i] for i in diff], leaves)
        return {"ok": True, "call": call, "result": result, "diff": diff, "sync": sync}

    def op_backward(self, request) -> dict:
        torch = self.torch
        outs, leaves = self.calls[request["call"]]
        grads = torch.autograd.grad(
            outs, leaves, grad_outputs=list(request["grads"]), allow_unused=True, retain_graph=True
        )
        return {"ok": True, "grads": list(grads)}

    def op_release(self, request) -> dict:
        self.calls.clear()
        self.handles.clear()
        self.cache.clear()
        return {"ok": True}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, server: Server) -> None:
        super().__init__(file)
        self.server = server

    def persistent_load(self, pid):
        kind, key = pid
        if kind == "cache":
            return self.server.cache[key]
        if kind == "handle":
            return self.server.handles[key]
        raise pickle.UnpicklingError(f"unknown reference {pid!r}")


_SOURCES: dict[str, str] = {}


def _register_source(filename: str, source: str) -> None:
    import linecache

    _SOURCES[filename] = source
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def describe(exc: BaseException) -> dict:
    """Type, message and the student's part of the traceback (frames in answer cells only)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<answer cell")]
    lines = traceback.format_list(frames)
    message = str(exc)
    if isinstance(exc, KeyError) and exc.args:
        message = repr(exc.args[0])
    return {"type": type(exc).__name__, "message": message[:4000], "traceback": "".join(lines)[-6000:]}


def main() -> None:
    rfd, wfd = os.dup(0), os.dup(1)  # the protocol's private descriptors (not inherited by children)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    log = os.open(os.environ.get("DGM_PROBE_LOG", "/tmp/probe.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), write_through=True)
    sys.stdin = io.TextIOWrapper(os.fdopen(0, "rb"))
    _kind, token = wire.read_frame(rfd, b"\0" * wire.TOKEN_BYTES, max_bytes=wire.TOKEN_BYTES)
    wire.write_frame(wfd, b"H", token, b"ready")
    Server(rfd, wfd, token).serve()


if __name__ == "__main__":
    main()
