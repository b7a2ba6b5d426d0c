"""The trusted side of a probe: the student's functions as local stand-ins that run in the sandbox.

:class:`ProbeSession` starts :mod:`autograder.sandboxed.probe` in a sandbox and loads the course's
imports and the student's answer cells there. :meth:`ProbeSession.function` returns a stand-in for
one of the student's functions: calling it pickles the arguments into the sandbox (large modules once
per cell), the student's function runs there, and what comes back is decoded by
:func:`autograder.sandboxed.wire.decode` (plain tensors, numbers, containers, course_lib dataclasses,
or a reference to an object left in the sandbox). Arguments the call changed in place are updated
here, and a result that depends on differentiable arguments is attached to this process's autograd
graph, so ``out.sum().backward()`` or ``torch.autograd.grad(out, x)`` in a test asks the sandbox for the
gradient (:class:`_RemoteBackward`). No student code ever runs in this process.

Errors of the student's code come back as the same built-in exception type (so a test's
``except (IndexError, RuntimeError)`` still works) marked with ``student_code = True``; a sandbox that
dies, answers garbage or misses the deadline raises :class:`ProbeFailed`.
"""

from __future__ import annotations

import builtins
import io
import secrets
import threading
from collections.abc import Sequence
from typing import Any

import torch

from . import sandbox
from .sandboxed import wire

MAX_ANSWER = 1 << 30  # bytes of one answer (a result, gradients)


class ProbeFailed(RuntimeError):
    """The sandboxed process died, broke the protocol, or did not answer in time."""


class StudentCodeError(RuntimeError):
    """An exception of the student's code that is not a built-in type."""


def student_exception(error: dict) -> BaseException:
    """An exception to raise here for an error the student's code raised in the sandbox."""
    name = str(error.get("type", "Exception"))[:100]
    message = str(error.get("message", ""))
    if not message.strip():
        message = (
            "your function is not implemented yet (it raises NotImplementedError)"
            if name == "NotImplementedError"
            else f"your code raised {name}"
        )
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == "builtins":
        try:
            exc = cls(message)
        except Exception:  # noqa: BLE001 - exotic constructors (UnicodeDecodeError...)
            exc = StudentCodeError(f"{name}: {message}")
    else:
        exc = StudentCodeError(f"{name}: {message}")
    exc.student_code = True
    exc.student_traceback = str(error.get("traceback", ""))
    if exc.student_traceback:
        exc.add_note("in your code:\n" + exc.student_traceback.rstrip())
    return exc


class RemoteObject:
    """An object the student's code returned that stays in the sandbox (e.g. a function)."""

    def __init__(self, session: ProbeSession, ref: dict) -> None:
        self._session, self._id = session, int(ref["id"])
        self._type, self._callable = str(ref.get("type", "object"))[:100], bool(ref.get("callable"))

    def __call__(self, *args, **kwargs):
        if not self._callable:
            raise TypeError(f"the {self._type} your code returned is not callable")
        return self._session.call(("handle", self._id), args, kwargs)

    def __repr__(self) -> str:
        return f"<{self._type} returned by your code>"


class StudentFunction:
    """Stand-in for the student's function ``name``."""

    def __init__(self, session: ProbeSession, name: str) -> None:
        self._session, self.__name__ = session, name
        self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return self._session.call(("name", self.__name__), args, kwargs)

    def __repr__(self) -> str:
        return f"<your function {self.__name__}>"


class _RemoteBackward(torch.autograd.Function):
    """Joins outputs computed in the sandbox to this process's graph: backward asks the sandbox."""

    @staticmethod
    def forward(ctx, session, call, n_leaves, *tensors):
        ctx.session, ctx.call, ctx.n_leaves = session, call, n_leaves
        outs = tensors[n_leaves:]
        ctx.n_outs = len(outs)
        return tuple(o.clone() for o in outs)

    @staticmethod
    def backward(ctx, *grad_outputs):
        grads = ctx.session.backward(ctx.call, grad_outputs)
        if len(grads) != ctx.n_leaves:
            raise ProbeFailed("the sandbox sent a wrong number of gradients")
        return (None, None, None, *grads, *([None] * ctx.n_outs))


class ProbeSession:
    """A sandboxed probe holding one submission's answer cells.

    Args:
        setup: the source of the notebook's first code cell (from the instructor's notebook).
        answers: ``(grade_id, source)`` of the student's answer cells, in notebook order.
        limits: the sandbox's limits (its ``wall_s`` is the session's lifetime).
        ro_binds: folders the student's code may read (its own checkpoints), as for :class:`sandbox.Sandbox`.
        cell_timeout: seconds one answer cell may run while loading (the notebook's per-cell limit).
    """

    def __init__(
        self,
        setup: str,
        answers: Sequence[tuple[str, str]],
        *,
        limits: sandbox.Limits,
        env: dict[str, str] | None = None,
        gpu: bool = False,
        ro_binds: Sequence[tuple[str, str]] = (),
        cell_timeout: float | None = None,
    ) -> None:
        self.setup, self.answers, self.cell_timeout = setup, list(answers), cell_timeout
        self.limits, self.env, self.gpu, self.ro_binds = limits, dict(env or {}), gpu, list(ro_binds)
        self.box: sandbox.Sandbox | None = None
        self.token = b""
        self.deadline: float | None = None
        self._cached: dict[int, tuple[Any, tuple]] = {}  # id(obj) -> (obj, fingerprint); strong refs
        self.load_errors: dict[str, dict] = {}
        self.names: list[str] = []
        self.calls = 0

    # ------------------------------------------------------------------------ lifetime
    def start(self, deadline: float) -> dict:
        """Start the sandbox and load the cells; returns the load answer (names, per-cell errors)."""
        self.close()
        self.deadline = deadline
        self.token = secrets.token_bytes(wire.TOKEN_BYTES)
        self.box = sandbox.Sandbox(
            ["python", "-m", "sandboxed.probe"], env=self.env, limits=self.limits, gpu=self.gpu, ro_binds=self.ro_binds
        )
        self._stderr = bytearray()
        threading.Thread(target=self._drain, args=(self.box.proc.stderr, self._stderr), daemon=True).start()
        try:
            wire.write_frame(self.box.proc.stdin.fileno(), b"H", b"\0" * wire.TOKEN_BYTES, self.token)
            self.box.proc.stdin.flush()
            kind, payload = self._read()
        except (OSError, EOFError, TimeoutError) as exc:
            raise self._failed(exc) from None
        if kind != b"H" or payload != b"ready":
            raise ProbeFailed("the probe did not start")
        answer = self._request(
            {"op": "load", "setup": self.setup, "answers": self.answers, "cell_timeout": self.cell_timeout}
        )
        self.load_errors, self.names = dict(answer.get("errors") or {}), list(answer.get("names") or [])
        return answer

    def alive(self) -> bool:
        return self.box is not None and self.box.proc.poll() is None

    def close(self) -> None:
        if self.box is not None:
            self.box.kill()
        self.box = None
        self._cached.clear()

    def release(self) -> None:
        """End of a cell: forget cached arguments and references on both sides."""
        self._cached.clear()
        if self.alive():
            self._request({"op": "release"})

    @staticmethod
    def _drain(stream, buf: bytearray, cap: int = 1 << 20) -> None:
        try:
            for chunk in iter(lambda: stream.read1(1 << 14), b""):
                if len(buf) < cap:
                    buf.extend(chunk[: cap - len(buf)])
        except (OSError, ValueError):
            pass

    # ------------------------------------------------------------------------ protocol
    def _failed(self, exc: BaseException) -> ProbeFailed:
        rc = self.box.proc.poll() if self.box else None
        self.close()
        if isinstance(exc, TimeoutError):
            return ProbeFailed("your code did not finish before the time limit of this check")
        how = f" (exit status {rc})" if rc is not None else ""
        return ProbeFailed(f"the process running your code stopped{how}: {exc}")

    def _read(self) -> tuple[bytes, bytes]:
        return wire.read_frame(self.box.proc.stdout.fileno(), self.token, deadline=self.deadline, max_bytes=MAX_ANSWER)

    def _request(self, request: dict) -> dict:
        if not self.alive():
            raise ProbeFailed("the process running your code is not running (it stopped during an earlier call)")
        payload = self._pickle(request)
        try:
            wire.write_frame(self.box.proc.stdin.fileno(), b"Q", self.token, payload)
            kind, data = self._read()
            if kind != b"R":
                raise EOFError("unexpected frame")
            answer = wire.decode(data, max_bytes=MAX_ANSWER, remote=lambda ref: RemoteObject(self, ref))
        except (OSError, EOFError, TimeoutError, wire.WireError) as exc:
            raise self._failed(exc) from None
        if not isinstance(answer, dict) or "ok" not in answer:
            raise self._failed(EOFError("an answer of the wrong shape"))
        if not answer["ok"]:
            error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
            raise student_exception(error)
        return answer

    def _pickle(self, obj) -> bytes:
        import cloudpickle

        session = self

        class Pickler(cloudpickle.CloudPickler):
            def persistent_id(self, x):
                if isinstance(x, RemoteObject) and x._session is session:
                    return ("handle", x._id)
                if isinstance(x, StudentFunction) and x._session is session:
                    raise TypeError(f"cannot pass your function {x.__name__} to another of your functions")
                entry = session._cached.get(id(x))
                if entry is not None and entry[0] is x and getattr(self, "_dgm_top", None) is not x:
                    return ("cache", id(x))
                return None

            def reducer_override(self, x):
                if isinstance(x, torch.Tensor) and x.requires_grad and x.grad_fn is not None:
                    return (torch.Tensor.requires_grad_, (x.detach(),))
                return super().reducer_override(x)

        buf = io.BytesIO()
        p = Pickler(buf, protocol=5)
        p._dgm_top = obj.get("obj") if obj.get("op") == "put" else None
        p.dump(obj)
        return buf.getvalue()

    # ------------------------------------------------------------------------ calls
    def function(self, name: str) -> StudentFunction:
        return StudentFunction(self, name)

    def _put_modules(self, args, kwargs) -> None:
        """Send each module argument once (again only if it changed since): calls then reference it."""
        for obj in _modules_in((args, kwargs)):
            fingerprint = _fingerprint(obj)
            entry = self._cached.get(id(obj))
            if entry is not None and entry[0] is obj and entry[1] == fingerprint:
                continue
            self._cached.pop(id(obj), None)
            self._request({"op": "put", "key": id(obj), "obj": obj})
            self._cached[id(obj)] = (obj, fingerprint)

    def call(self, target: tuple[str, Any], args: tuple, kwargs: dict):
        self.calls += 1
        self._put_modules(args, kwargs)
        tensors = wire.walk_tensors((args, kwargs))
        leaves = [t for t in tensors if t.requires_grad]
        answer = self._request(
            {"op": "call", "target": target, "args": args, "kwargs": kwargs, "grad": torch.is_grad_enabled()}
        )
        for item in answer.get("sync") or ():
            index, data, grad = item
            if not (isinstance(index, int) and 0 <= index < len(tensors)):
                raise ProbeFailed("the sandbox named an argument that does not exist")
            t = tensors[index]
            with torch.no_grad():
                if isinstance(data, torch.Tensor) and data.shape == t.shape:
                    t.copy_(data)
                if isinstance(grad, torch.Tensor) and grad.shape == t.shape:
                    t.grad = grad.to(t.dtype)
        result = answer.get("result")
        diff = answer.get("diff") or []
        if diff and leaves and torch.is_grad_enabled():
            outs = wire.walk_tensors(result)
            if any(not (isinstance(i, int) and 0 <= i < len(outs)) for i in diff):
                raise ProbeFailed("the sandbox named an output that does not exist")
            picked = [outs[i] for i in diff]
            floating = [o for o in picked if o.is_floating_point() or o.is_complex()]
            if floating:
                joined = _RemoteBackward.apply(self, answer["call"], len(leaves), *leaves, *floating)
                result = wire.replace_tensors(result, {id(o): j for o, j in zip(floating, joined)})
        return result

    def backward(self, call: int, grad_outputs) -> list:
        answer = self._request({"op": "backward", "call": call, "grads": [g.detach() for g in grad_outputs]})
        return [g if isinstance(g, torch.Tensor) else None for g in answer.get("grads") or []]


def _modules_in(obj) -> list:
    out, seen = [], set()

    def walk(x, depth=0):
        if depth > 8 or id(x) in seen:
            return
        seen.add(id(x))
        if isinstance(x, torch.nn.Module):
            out.append(x)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v, depth + 1)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v, depth + 1)

    walk(obj)
    return out


def _fingerprint(module: torch.nn.Module) -> tuple:
    tensors = [*module.parameters(), *module.buffers()]
    return (
        tuple(m.training for m in module.modules()),
        tuple((t._version, t.requires_grad, t.dtype, t.device.type, tuple(t.shape)) for t in tensors),
    )
