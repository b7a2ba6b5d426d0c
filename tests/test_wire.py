"""The data format that crosses the trust boundary: round trips, and refusal of anything malformed.

The decoder is the only code of the trusted side that reads bytes a sandbox wrote, so besides round
trips each test here feeds it something a hostile probe could send and checks it is refused (or
rebuilt as plain data) without running code, allocating past the blob, or accepting foreign types.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import struct
import time

import numpy as np
import pytest
import torch

from autograder.sandboxed import wire
from course_lib.diffusion import DiffusionSchedule, cosine_beta_schedule


def _roundtrip(obj):
    return wire.decode(wire.encode(obj))


def test_plain_values_and_containers_round_trip():
    obj = {"a": [1, 2.5, None, True, "s"], ("k", 3): (float("inf"), float("-inf")), 7: {"n": 2**70}}
    out = _roundtrip(obj)
    assert out["a"] == [1, 2.5, None, True, "s"]
    assert out[("k", 3)] == (float("inf"), float("-inf"))
    assert out[7] == {"n": 2**70}
    assert isinstance(_roundtrip((1,)), tuple) and isinstance(_roundtrip([1]), list)
    assert np.isnan(_roundtrip(float("nan")))


@pytest.mark.parametrize(
    "dtype",
    [
        torch.float32,
        torch.float64,
        torch.float16,
        torch.bfloat16,
        torch.int64,
        torch.int8,
        torch.uint8,
        torch.bool,
        torch.complex64,
    ],
)
def test_tensors_round_trip_bit_exactly(dtype):
    g = torch.Generator().manual_seed(0)
    t = (
        (torch.randn(3, 4, 5, generator=g) * 100).to(dtype)
        if dtype != torch.complex64
        else torch.randn(3, 2, dtype=dtype)
    )
    out = _roundtrip({"t": t, "view": t.transpose(0, 1) if t.dim() > 1 else t, "empty": t[:0]})
    assert out["t"].dtype == dtype and torch.equal(out["t"], t)
    assert torch.equal(out["view"], t.transpose(0, 1)) and out["view"].is_contiguous()
    assert out["empty"].shape == (0, *t.shape[1:])


def test_numpy_scalars_and_arrays_and_torch_metadata():
    out = _roundtrip(
        [
            np.float32(1.5),
            np.int64(3),
            np.arange(6).reshape(2, 3),
            torch.Size([2, 3]),
            torch.float16,
            torch.device("cpu"),
        ]
    )
    assert out[0] == 1.5 and out[1] == 3 and type(out[1]) is int
    assert np.array_equal(out[2], np.arange(6).reshape(2, 3))
    assert out[3] == (2, 3) and out[4] is torch.float16 and out[5] == torch.device("cpu")


def test_decoded_tensors_never_require_grad_or_keep_a_subclass():
    class Liar(torch.Tensor):
        def __eq__(self, other):
            return True

    t = torch.ones(3, requires_grad=True) * 2
    out = _roundtrip([t, torch.zeros(2).as_subclass(Liar)])
    assert not out[0].requires_grad and type(out[1]) is torch.Tensor
    assert not torch.equal(out[1], torch.ones(2))


def test_course_lib_dataclasses_are_rebuilt_from_their_fields():
    from autograder.assignments.diffusion.reference import make_schedule

    s = make_schedule(cosine_beta_schedule(10))
    out = _roundtrip(s)
    assert isinstance(out, DiffusionSchedule)
    assert all(torch.equal(getattr(out, f.name), getattr(s, f.name)) for f in dataclasses.fields(s))


def test_objects_without_a_representation_need_a_reference():
    with pytest.raises(wire.Unencodable):
        wire.encode({"f": lambda x: x})
    refs = []
    data = wire.encode([len], remote=lambda obj: refs.append(obj) or {"id": 1})
    assert refs == [len]
    assert wire.decode(data, remote=lambda ref: ("proxy", ref["id"])) == [("proxy", 1)]
    with pytest.raises(wire.WireError, match="references are not accepted"):
        wire.decode(data)


def _forge(tree, blob=b""):
    header = json.dumps(tree).encode()
    return wire.MAGIC + struct.pack("<Q", len(header)) + header + blob


@pytest.mark.parametrize(
    "tree, blob, match",
    [
        ({"T": ["float32", [4], 0, 16, False]}, b"\0" * 8, "out of range"),  # claims bytes the blob lacks
        ({"T": ["float32", [1 << 40], 0, 16, False]}, b"\0" * 16, "does not match"),  # huge shape, small bytes
        ({"T": ["object", [1], 0, 8, False]}, b"\0" * 8, "not allowed"),
        ({"T": ["float32", [-1], 0, 0, False]}, b"", "bad shape"),
        ({"N": ["object", [1], 0, 8]}, b"\0" * 8, "not allowed"),
        ({"DC": ["os:system", {}]}, b"", "not a course_lib dataclass"),
        ({"DC": ["course_lib.checkpoints:CheckpointError", {}]}, b"", "not a dataclass"),
        ({"X": 1}, b"", "unknown node"),
        ({"d": [[{"l": [1]}, 2]]}, b"", "unhashable"),
        ({"big": "1" * 5000}, b"", "bad integer"),
        ([1, 2], b"", "bare list"),
    ],
)
def test_malformed_data_is_refused(tree, blob, match):
    with pytest.raises(wire.WireError, match=match):
        wire.decode(_forge(tree, blob))


def test_a_pickle_is_not_data():
    payload = pickle.dumps({"a": 1})
    with pytest.raises(wire.WireError, match="not wire data"):
        wire.decode(payload)


def test_size_cap_and_nesting_depth():
    data = wire.encode(torch.zeros(1000))
    with pytest.raises(wire.WireError, match="cap"):
        wire.decode(data, max_bytes=100)
    deep = 1
    for _ in range(100):
        deep = [deep]
    with pytest.raises(wire.Unencodable, match="deep"):
        wire.encode(deep)
    tree = 1
    for _ in range(100):
        tree = {"l": [tree]}
    with pytest.raises(wire.WireError, match="deep"):
        wire.decode(_forge(tree))


def test_frames_check_token_cap_and_deadline():
    """(A bad frame ends the session: the judge kills that probe, so each case gets a fresh pipe.)"""
    token = os.urandom(wire.TOKEN_BYTES)

    def pipe_with(*frames):
        r, w = os.pipe()
        for tok, payload in frames:
            wire.write_frame(w, b"R", tok, payload)
        return r, w

    r, w = pipe_with((token, b"hello"))
    assert wire.read_frame(r, token, deadline=time.monotonic() + 5) == (b"R", b"hello")
    r, w = pipe_with((os.urandom(wire.TOKEN_BYTES), b"x"))
    with pytest.raises(wire.FrameError, match="token"):
        wire.read_frame(r, token, deadline=time.monotonic() + 5)
    r, w = pipe_with((token, b"x" * 100))
    with pytest.raises(wire.FrameError, match="cap"):
        wire.read_frame(r, token, deadline=time.monotonic() + 5, max_bytes=10)
    r, w = os.pipe()
    os.write(w, b"garbage that is not a frame header at all")
    with pytest.raises(wire.FrameError, match="not a frame"):
        wire.read_frame(r, token, deadline=time.monotonic() + 5)
    r, w = os.pipe()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        wire.read_frame(r, token, deadline=time.monotonic() + 0.3)
    assert time.monotonic() - start < 2
    os.close(w)
    with pytest.raises(wire.FrameError, match="ended"):
        wire.read_frame(r, token, deadline=time.monotonic() + 5)


def test_walk_tensors_order_follows_structure_and_sharing():
    lin = torch.nn.Linear(2, 3)
    x = torch.ones(2)
    found = wire.walk_tensors(((lin, x, x), {"y": lin.weight}))
    assert found[0] is lin.weight and found[1] is lin.bias and found[2] is x and len(found) == 3
    copy = pickle.loads(pickle.dumps(((lin, x, x), {"y": lin.weight})))
    again = wire.walk_tensors(copy)
    assert [t.shape for t in again] == [t.shape for t in found] and again[2] is copy[0][2]
