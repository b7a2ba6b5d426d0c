"""Plain data across the trust boundary: a format that cannot run code, and length-prefixed frames.

What a sandboxed process sends to the trusted side is :func:`encode`-d: a JSON header describing a
tree of ``None``, bools, numbers, strings, lists, tuples, dicts, tensors and numpy arrays (dtype, shape,
offset into the blob), course_lib dataclasses (type name + fields) and references to objects left in
the sandbox (an id), followed by the raw bytes of the arrays. :func:`decode` rebuilds it without
pickle: it checks every dtype against an allow-list, every shape and byte range against the blob,
resolves dataclass types only inside ``course_lib``, and refuses anything over its size cap. (What the
trusted side sends *into* the sandbox may be a pickle: unpickling there can only harm the sandbox.)

Frames (:func:`write_frame` / :func:`read_frame`): ``b"DGMF"``, one kind byte, a 16-byte session
token, an 8-byte little-endian length, the payload. A reader waits with a deadline and a length cap,
and rejects a frame whose token is not the session's.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import select
import struct
import time

MAGIC = b"DGMW1\n"
FRAME = b"DGMF"
TOKEN_BYTES = 16
_HEADER = struct.Struct("<4sc16sQ")

TORCH_DTYPES = (
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "bool",
)
NUMPY_DTYPES = (
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint16",
    "uint32",
    "uint64",
    "bool",
)
MAX_DEPTH = 64


class WireError(ValueError):
    """Data that does not follow the format (or is over a cap)."""


class Unencodable(TypeError):
    """A value the format has no representation for."""


def _torch():
    import torch

    return torch


def encode(obj, *, remote=None) -> bytes:
    """Bytes for ``obj``. ``remote(obj) -> dict | None`` may turn an unencodable object into a
    reference (e.g. a function left in the sandbox); without it such objects raise :class:`Unencodable`."""
    torch = _torch()
    blobs: list[bytes] = []
    size = [0]

    def add(raw: bytes) -> tuple[int, int]:
        off = size[0]
        blobs.append(raw)
        size[0] += len(raw)
        return off, len(raw)

    def enc(x, depth: int):
        if depth > MAX_DEPTH:
            raise Unencodable("nesting too deep")
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, int):
            return x if abs(x) < 2**63 else {"big": str(x)}
        if isinstance(x, float):
            return x if math.isfinite(x) else {"f": repr(x)}
        if isinstance(x, torch.Tensor):
            if x.layout != torch.strided or x.is_quantized or x.is_nested:
                raise Unencodable(f"a {x.layout} tensor")
            dtype = str(x.dtype).replace("torch.", "")
            if dtype not in TORCH_DTYPES:
                raise Unencodable(f"a tensor of dtype {dtype}")
            t = x.detach().to("cpu").contiguous()
            raw = (t.view(torch.int16) if dtype == "bfloat16" else t).numpy().tobytes() if t.numel() else b""
            off, n = add(raw)
            return {"T": [dtype, list(t.shape), off, n, bool(x.requires_grad)]}
        if isinstance(x, torch.Size):
            return {"t": [enc(v, depth + 1) for v in x]}
        if isinstance(x, torch.dtype):
            return {"dtype": str(x).replace("torch.", "")}
        if isinstance(x, torch.device):
            return {"device": str(x)}
        np = _numpy()
        if np is not None:
            if isinstance(x, np.ndarray):
                if x.dtype.name not in NUMPY_DTYPES:
                    raise Unencodable(f"a numpy array of dtype {x.dtype}")
                a = np.ascontiguousarray(x)
                off, n = add(a.tobytes())
                return {"N": [a.dtype.name, list(a.shape), off, n]}
            if isinstance(x, np.generic):
                return enc(x.item(), depth + 1)
        if isinstance(x, list):
            return {"l": [enc(v, depth + 1) for v in x]}
        if isinstance(x, tuple):
            return {"t": [enc(v, depth + 1) for v in x]}
        if isinstance(x, dict):
            return {"d": [[enc(k, depth + 1), enc(v, depth + 1)] for k, v in x.items()]}
        if dataclasses.is_dataclass(x) and not isinstance(x, type) and type(x).__module__.startswith("course_lib."):
            fields = {f.name: enc(getattr(x, f.name), depth + 1) for f in dataclasses.fields(x) if f.init}
            return {"DC": [f"{type(x).__module__}:{type(x).__qualname__}", fields]}
        ref = remote(x) if remote is not None else None
        if ref is not None:
            return {"R": ref}
        raise Unencodable(f"a {type(x).__module__}.{type(x).__qualname__}")

    tree = enc(obj, 0)
    header = json.dumps(tree, separators=(",", ":")).encode()
    return MAGIC + struct.pack("<Q", len(header)) + header + b"".join(blobs)


def _numpy():
    try:
        import numpy

        return numpy
    except ImportError:  # pragma: no cover
        return None


def decode(data: bytes, *, max_bytes: int = 1 << 30, remote=None):
    """Rebuild what :func:`encode` wrote; raise :class:`WireError` for anything malformed.

    ``remote(ref)`` turns a reference into an object (e.g. a proxy); without it references are refused.
    """
    torch = _torch()
    if len(data) > max_bytes:
        raise WireError(f"{len(data)} bytes, over the {max_bytes} byte cap")
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        raise WireError("not wire data")
    (hlen,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    if hlen > len(data) - start:
        raise WireError("header runs past the end")
    try:
        tree = json.loads(data[start : start + hlen])
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"bad header: {exc}") from None
    blob = memoryview(data)[start + hlen :]

    def span(off, n, count, itemsize) -> bytes:
        if not (isinstance(off, int) and isinstance(n, int) and 0 <= off and 0 <= n and off + n <= len(blob)):
            raise WireError("array bytes out of range")
        if n != count * itemsize:
            raise WireError("array size does not match its shape")
        return bytes(blob[off : off + n])

    def shape_of(shape) -> tuple[int, int]:
        if not (isinstance(shape, list) and len(shape) <= 32 and all(isinstance(s, int) and s >= 0 for s in shape)):
            raise WireError("bad shape")
        count = 1
        for s in shape:
            count *= s
        return tuple(shape), count

    def dec(x, depth: int):
        if depth > MAX_DEPTH:
            raise WireError("nesting too deep")
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, list):
            raise WireError("bare list in the tree")
        if not (isinstance(x, dict) and len(x) == 1):
            raise WireError("bad node")
        ((kind, v),) = x.items()
        if kind == "T":
            dtype, shape, off, n, grad = _fields(v, 5)
            if dtype not in TORCH_DTYPES:
                raise WireError(f"dtype {dtype!r} not allowed")
            shape, count = shape_of(shape)
            tdt = getattr(torch, dtype)
            itemsize = torch.empty((), dtype=tdt).element_size()
            raw = span(off, n, count, itemsize)
            if dtype == "bfloat16":
                t = (
                    torch.frombuffer(bytearray(raw), dtype=torch.int16).view(torch.bfloat16)
                    if raw
                    else torch.empty(0, dtype=tdt)
                )
            else:
                t = torch.frombuffer(bytearray(raw), dtype=tdt) if raw else torch.empty(0, dtype=tdt)
            return t.reshape(shape)  # never requires grad: gradients cross the boundary explicitly
        if kind == "N":
            np = _numpy()
            dtype, shape, off, n = _fields(v, 4)
            if np is None or dtype not in NUMPY_DTYPES:
                raise WireError(f"numpy dtype {dtype!r} not allowed")
            shape, count = shape_of(shape)
            ndt = np.dtype(dtype)
            return np.frombuffer(span(off, n, count, ndt.itemsize), dtype=ndt).reshape(shape).copy()
        if kind == "f":
            if v not in ("nan", "inf", "-inf"):
                raise WireError("bad float")
            return float(v)
        if kind == "big":
            if not (isinstance(v, str) and len(v) < 4000 and v.lstrip("-").isdigit()):
                raise WireError("bad integer")
            return int(v)
        if kind == "l":
            return [dec(e, depth + 1) for e in _seq(v)]
        if kind == "t":
            return tuple(dec(e, depth + 1) for e in _seq(v))
        if kind == "d":
            out = {}
            for pair in _seq(v):
                k, val = _fields(pair, 2)
                key = dec(k, depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise WireError("unhashable dict key") from None
                out[key] = dec(val, depth + 1)
            return out
        if kind == "dtype":
            if v not in TORCH_DTYPES:
                raise WireError("bad dtype")
            return getattr(torch, v)
        if kind == "device":
            if not isinstance(v, str) or len(v) > 32:
                raise WireError("bad device")
            return torch.device(v)
        if kind == "DC":
            name, fields = _fields(v, 2)
            cls = _course_lib_dataclass(name)
            if not isinstance(fields, dict):
                raise WireError("bad dataclass fields")
            try:
                return cls(**{str(k): dec(f, depth + 1) for k, f in fields.items()})
            except (TypeError, ValueError) as exc:
                raise WireError(f"cannot rebuild {name}: {exc}") from None
        if kind == "R":
            if remote is None:
                raise WireError("object references are not accepted here")
            return remote(v)
        raise WireError(f"unknown node {kind!r}")

    return dec(tree, 0)


def _fields(v, n: int) -> list:
    if not (isinstance(v, list) and len(v) == n):
        raise WireError("bad node fields")
    return v


def _seq(v) -> list:
    if not isinstance(v, list):
        raise WireError("bad sequence")
    return v


def _course_lib_dataclass(name):
    if not isinstance(name, str) or ":" not in name:
        raise WireError("bad type name")
    module, qualname = name.split(":", 1)
    if not (module == "course_lib" or module.startswith("course_lib.")) or not qualname.isidentifier():
        raise WireError(f"type {name!r} is not a course_lib dataclass")
    try:
        cls = getattr(importlib.import_module(module), qualname)
    except (ImportError, AttributeError):
        raise WireError(f"unknown type {name!r}") from None
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise WireError(f"{name!r} is not a dataclass")
    return cls


# ----------------------------------------------------------------------------------------- frames


def write_frame(fd: int, kind: bytes, token: bytes, payload: bytes) -> None:
    data = _HEADER.pack(FRAME, kind, token, len(payload)) + payload
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class FrameError(EOFError):
    """The other side closed the stream, sent garbage, or took too long."""


def read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer before the deadline")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise TimeoutError("no answer before the deadline")
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise FrameError("the stream ended")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(
    fd: int, token: bytes, *, deadline: float | None = None, max_bytes: int = 1 << 30
) -> tuple[bytes, bytes]:
    """(kind, payload) of the next frame; raises TimeoutError, FrameError."""
    head = read_exact(fd, _HEADER.size, deadline)
    magic, kind, tok, length = _HEADER.unpack(head)
    if magic != FRAME:
        raise FrameError("not a frame")
    if tok != token:
        raise FrameError("a frame with another session's token")
    if length > max_bytes:
        raise FrameError(f"a frame of {length} bytes, over the {max_bytes} byte cap")
    return kind, read_exact(fd, length, deadline)


# ----------------------------------------------------------------------------------------- tensors in arguments


def replace_tensors(obj, mapping: dict):
    """``obj`` with each tensor ``t`` whose ``id`` is in ``mapping`` replaced by ``mapping[id(t)]``
    (lists, tuples, dicts and dataclasses are rebuilt; everything else is kept)."""
    torch = _torch()

    def rep(x):
        if isinstance(x, torch.Tensor):
            return mapping.get(id(x), x)
        if isinstance(x, list):
            return [rep(v) for v in x]
        if isinstance(x, tuple):
            return tuple(rep(v) for v in x)
        if isinstance(x, dict):
            return {k: rep(v) for k, v in x.items()}
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return dataclasses.replace(x, **{f.name: rep(getattr(x, f.name)) for f in dataclasses.fields(x) if f.init})
        return x

    return rep(obj)


def walk_tensors(obj) -> list:
    """Every tensor reachable from ``obj`` (through lists, tuples, dicts, modules' parameters and buffers,
    dataclass fields), each once, in a fixed order. Both sides of a call walk the same structure (the
    pickle preserves sharing), so the i-th tensor here is the i-th tensor there."""
    torch = _torch()
    out, seen = [], set()

    def walk(x, depth: int) -> None:
        if depth > MAX_DEPTH or id(x) in seen:
            return
        if isinstance(x, torch.Tensor):
            seen.add(id(x))
            out.append(x)
        elif isinstance(x, torch.nn.Module):
            seen.add(id(x))
            for t in x.parameters():
                walk(t, depth + 1)
            for t in x.buffers():
                walk(t, depth + 1)
        elif isinstance(x, (list, tuple)):
            seen.add(id(x))
            for v in x:
                walk(v, depth + 1)
        elif isinstance(x, dict):
            seen.add(id(x))
            for v in x.values():
                walk(v, depth + 1)
        elif dataclasses.is_dataclass(x) and not isinstance(x, type):
            seen.add(id(x))
            for f in dataclasses.fields(x):
                walk(getattr(x, f.name, None), depth + 1)

    walk(obj, 0)
    return out
