"""device, profiles and checkpoints: behaviour and every error message."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle

import pytest
import torch

from course_lib import checkpoints as ck
from course_lib import device as dev
from course_lib import profiles


# ---------------------------------------------------------------- device
def test_get_device_defaults_to_cuda_when_there_is_one_and_cpu_otherwise(monkeypatch):
    """The documented default, on both kinds of machine (CUDA's presence is faked either way)."""
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.get_device() == torch.device("cuda")
    assert dev.get_device("cpu") == torch.device("cpu")  # an explicit name wins
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert dev.get_device() == torch.device("cpu")  # and so does COURSE_DEVICE


def test_get_device_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown device 'tpu'; expected one of cpu, cuda"):
        dev.get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available.*COURSE_DEVICE"):
            dev.get_device("cuda")


def test_seed_everything_reproduces_draws():
    dev.seed_everything(3)
    a = torch.randn(4)
    g = dev.seed_everything(3)
    assert torch.equal(a, torch.randn(4))
    assert torch.equal(torch.randn(2, generator=g), torch.randn(2, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError, match="non-negative int"):
        dev.seed_everything(-1)


def test_autocast_is_off_on_cpu_by_default_and_bf16_when_asked():
    x = torch.randn(4, 4)
    with dev.autocast("cpu"):
        assert (x @ x).dtype == torch.float32
    with dev.autocast("cpu", enabled=True):
        assert (x @ x).dtype == torch.bfloat16


# ---------------------------------------------------------------- profiles
@dataclasses.dataclass(frozen=True)
class ToyProfile:
    epochs: int
    lr: float
    dataset: str
    widths: tuple[int, ...] = (32, 64)
    clip: float | None = None


def test_active_profile_name(monkeypatch):
    assert profiles.active_profile_name({"COURSE_PROFILE": "fast"}) == "fast"
    assert profiles.active_profile_name({"COURSE_PROFILE": " FULL "}) == "full"
    default = "full" if torch.cuda.is_available() else "fast"
    assert profiles.active_profile_name({}) == default
    with pytest.raises(ValueError, match="unknown COURSE_PROFILE 'quick'; expected one of full, fast"):
        profiles.active_profile_name({"COURSE_PROFILE": "quick"})


def test_override_checks_keys_and_types():
    cfg = ToyProfile(epochs=2, lr=1e-3, dataset="mnist5k")
    assert profiles.override(cfg, epochs=5, lr=1).epochs == 5
    assert profiles.override(cfg, widths=(8, 16, 32)).widths == (8, 16, 32)
    assert profiles.override(cfg, clip=None).clip is None and profiles.override(cfg, clip=1.0).clip == 1.0
    with pytest.raises(KeyError, match="ToyProfile has no setting 'epoch'; valid settings: epochs, lr"):
        profiles.override(cfg, epoch=3)
    with pytest.raises(TypeError, match=r"ToyProfile.epochs expects int, got str \('3'\)"):
        profiles.override(cfg, epochs="3")
    with pytest.raises(TypeError, match="expects int, got bool"):
        profiles.override(cfg, epochs=True)
    with pytest.raises(TypeError):
        profiles.override(cfg, widths=(8, "x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 3


def test_register_and_get_profile(monkeypatch):
    monkeypatch.setitem(profiles.ASSIGNMENT_MODULES, "99_toy", "toy_does_not_exist")
    full, fast = ToyProfile(20, 1e-3, "cifar10"), ToyProfile(2, 1e-3, "mnist5k")
    profiles.register("99_toy", full=full, fast=fast, cost="seconds")
    try:
        assert profiles.get_profile("99_toy", "fast") is not None
        assert profiles.get_profile("99_toy", "full").dataset == "cifar10"
        assert profiles.get_profile("99_toy", "fast", epochs=7).epochs == 7
        monkeypatch.setenv("COURSE_PROFILE", "fast")
        assert profiles.get_profile("99_toy").dataset == "mnist5k"
        with pytest.raises(ValueError, match="unknown profile 'medium'"):
            profiles.get_profile("99_toy", "medium")
    finally:
        profiles._REGISTRY.pop("99_toy")
    with pytest.raises(TypeError, match="frozen dataclass"):
        profiles.register("99_toy", full={"epochs": 1}, fast=fast, cost="seconds")
    with pytest.raises(ValueError, match="unknown assignment '06_flows'; expected one of 01_gan"):
        profiles.get_profile("06_flows")
    with pytest.raises(ValueError, match="has no profiles yet"):
        profiles.get_profile("99_toy")


def test_env_overrides_are_checked_and_apply_to_both_flavours(monkeypatch):
    env = profiles.OVERRIDES_ENV
    monkeypatch.setenv(env, json.dumps({"02_vae": {"seed": 3, "widths": [4, 8, 16, 32]}}))
    for name in ("fast", "full"):
        cfg = profiles.get_profile("02_vae", name)
        assert cfg.seed == 3 and cfg.widths == (4, 8, 16, 32)
    assert profiles.get_profile("02_vae", "fast", seed=5).seed == 5  # explicit overrides come last
    assert profiles.get_profile("05_importance_sampling", "fast").seed == 0  # other assignments untouched
    monkeypatch.setenv(env, json.dumps({"02_vae": {"sed": 3}}))
    with pytest.raises(KeyError, match="VAEProfile has no setting 'sed'"):
        profiles.get_profile("02_vae", "fast")
    monkeypatch.setenv(env, json.dumps({"02_vae": {"seed": "3"}}))
    with pytest.raises(TypeError, match="VAEProfile.seed expects int"):
        profiles.get_profile("02_vae", "fast")
    monkeypatch.setenv(env, json.dumps({"06_flows": {"seed": 3}}))
    with pytest.raises(ValueError, match=r"unknown assignments \['06_flows'\]"):
        profiles.get_profile("02_vae", "fast")
    for text in ("{seed: 3}", '{"02_vae": 3}', "[1]"):
        monkeypatch.setenv(env, text)
        with pytest.raises(ValueError, match=env):
            profiles.get_profile("02_vae", "fast")
    monkeypatch.setenv(env, "")
    assert profiles.get_profile("02_vae", "fast").seed == 0


# ---------------------------------------------------------------- checkpoints
def _net(width=4):
    return torch.nn.Sequential(torch.nn.Linear(3, width), torch.nn.ReLU(), torch.nn.Linear(width, 2))


def test_save_and_load_round_trip_with_sidecar(tmp_path):
    net = _net()
    path = ck.save_checkpoint(
        tmp_path / "runs" / "net.pt",
        {"model": net.state_dict()},
        meta={"profile": "fast", "steps": 12, "metrics": {"loss": 0.5}},
    )
    side = json.loads((tmp_path / "runs" / "net.json").read_text())
    assert side["steps"] == 12 and side["versions"]["torch"] == torch.__version__
    other = _net()
    meta = ck.load_into(other, path)
    assert meta["metrics"] == {"loss": 0.5}
    for a, b in zip(net.parameters(), other.parameters()):
        assert torch.equal(a, b)
    assert not list(tmp_path.rglob("*.tmp"))


def test_missing_checkpoint_says_to_run_the_training_cell(tmp_path):
    with pytest.raises(ck.CheckpointError, match="no checkpoint at .*missing.pt: run the training cell"):
        ck.load_checkpoint(tmp_path / "missing.pt")


def test_corrupt_and_truncated_checkpoints(tmp_path):
    path = ck.save_checkpoint(tmp_path / "net.pt", {"model": _net().state_dict()})
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ck.CheckpointError, match="corrupt or truncated.*delete it and re-run"):
        ck.load_checkpoint(path)
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ck.CheckpointError, match="corrupt or truncated"):
        ck.load_checkpoint(path)
    (tmp_path / "net.json").write_text("{not json")
    with pytest.raises(ck.CheckpointError, match="sidecar .* not valid JSON"):
        ck.read_meta(path)


class _Payload:
    """Unpickling this would call os.system: weights_only loading must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_malicious_pickle_is_refused_and_never_executed(tmp_path, monkeypatch):
    path = tmp_path / "evil.pt"
    torch.save({"model": _Payload()}, path)
    with open(tmp_path / "raw.pt", "wb") as f:  # a bare pickle, not even a torch zip file
        pickle.dump(_Payload(), f)
    calls = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd))
    with pytest.raises(ck.CheckpointError, match="refused to load .*could run code"):
        ck.load_checkpoint(path)
    assert calls == []
    with pytest.raises(ck.CheckpointError):
        ck.load_checkpoint(tmp_path / "raw.pt")
    assert calls == []


def test_oversized_checkpoint_is_refused_before_reading(tmp_path):
    path = ck.save_checkpoint(tmp_path / "net.pt", {"model": _net(64).state_dict()})
    with pytest.raises(ck.CheckpointError, match="over the 0 MiB limit; save only the model's state_dict"):
        ck.load_checkpoint(path, max_bytes=100)


def test_checkpoint_size_cap_follows_the_environment(tmp_path, monkeypatch):
    path = ck.save_checkpoint(tmp_path / "net.pt", {"model": _net(64).state_dict()})
    size = path.stat().st_size
    monkeypatch.setenv(ck.MAX_MB_ENV, str(size / 2**20 * 0.9))
    with pytest.raises(ck.CheckpointError, match="over the"):
        ck.load_into(_net(64), path)
    monkeypatch.setenv(ck.MAX_MB_ENV, str(size / 2**20 * 1.1))
    ck.load_into(_net(64), path)
    monkeypatch.delenv(ck.MAX_MB_ENV)
    assert ck.max_checkpoint_bytes() == ck.DEFAULT_MAX_BYTES == 512 * 2**20
    for bad in ("0", "-3", "big"):
        monkeypatch.setenv(ck.MAX_MB_ENV, bad)
        with pytest.raises(ValueError, match="COURSE_CHECKPOINT_MAX_MB=.*not a positive number"):
            ck.load_checkpoint(path)


def test_the_upload_intake_takes_every_checkpoint_the_loader_would_accept(tmp_path):
    """A checkpoint just over the loader's cap must reach the loader (which refuses it with its
    message) instead of being dropped at intake, where the fast profile would silently retrain it."""
    from autograder import intake

    up = tmp_path / "up"
    (up / "checkpoints").mkdir(parents=True)
    (up / "hw.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}')
    with open(up / "checkpoints" / "run.pt", "wb") as f:
        f.truncate(ck.DEFAULT_MAX_BYTES + 1)
    report = intake.take(up, tmp_path / "staged", "hw.ipynb")
    assert "checkpoints/run.pt" in report.accepted, report.refused
    with pytest.raises(ck.CheckpointError, match="over the 512 MiB limit"):
        ck.load_checkpoint(tmp_path / "staged" / "checkpoints" / "run.pt")


def test_wrong_architecture_lists_the_differences(tmp_path):
    path = ck.save_checkpoint(tmp_path / "net.pt", {"model": _net(4).state_dict()})
    with pytest.raises(
        ck.CheckpointError, match=r"different architecture.*shape mismatch 0.weight: saved \(4, 3\), model \(8, 3\)"
    ):
        ck.load_into(_net(8), path)
    deeper = torch.nn.Sequential(*_net(4), torch.nn.ReLU(), torch.nn.Linear(2, 2))
    with pytest.raises(ck.CheckpointError, match="missing 4.weight, 4.bias"):
        ck.load_into(deeper, path)
    with pytest.raises(ck.CheckpointError, match="has no entry 'generator'"):
        ck.load_into(_net(4), path, key="generator")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ck.CheckpointError, match="holds a list, not a dict"):
        ck.load_checkpoint(tmp_path / "list.pt")


def test_load_or_train_trains_once_then_loads(tmp_path, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    calls = []

    def train():
        calls.append(1)
        with torch.no_grad():
            net[0].weight.fill_(0.25)
        return {"history": {"loss": [1.0, 0.5]}}

    net = _net()
    meta = ck.load_or_train(tmp_path / "c" / "net.pt", net, train, profile="fast")
    assert meta["loaded"] is False and calls == [1]
    fresh = _net()
    net = fresh
    meta = ck.load_or_train(tmp_path / "c" / "net.pt", fresh, train, profile="fast")
    assert meta["loaded"] is True and calls == [1] and meta["history"] == {"loss": [1.0, 0.5]}
    assert torch.all(fresh[0].weight == 0.25)
    # a checkpoint from the other profile is retrained, not silently reused
    meta = ck.load_or_train(tmp_path / "c" / "net.pt", _net(), train, profile="full")
    assert meta["loaded"] is False and calls == [1, 1]


def test_load_or_train_never_trains_when_grading_the_full_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(ck.CheckpointError, match="trains nothing. Submit the checkpoints/ folder"):
        ck.load_or_train(tmp_path / "net.pt", _net(), lambda: {}, profile="full")
    ck.save_checkpoint(tmp_path / "net.pt", {"model": _net().state_dict()}, meta={"profile": "fast"})
    with pytest.raises(ck.CheckpointError, match="saved in the 'fast' profile but grading runs the 'full'"):
        ck.load_or_train(tmp_path / "net.pt", _net(), lambda: {}, profile="full")
    # in the fast profile a missing checkpoint is trained even under grading
    meta = ck.load_or_train(tmp_path / "other.pt", _net(), lambda: {"ok": 1}, profile="fast")
    assert meta["ok"] == 1 and (tmp_path / "other.pt").exists()


def test_a_compressed_checkpoint_is_refused_before_it_can_inflate(tmp_path):
    """torch.save never compresses; a deflated entry of a few MiB can inflate to GiB in memory, so the
    loader refuses it from the archive's directory, before torch reads a byte of it."""
    import zipfile

    path = tmp_path / "bomb.pt"
    ck.save_checkpoint(path, {"model": {"w": torch.ones(4)}})
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data + (b"\0" * (64 << 20) if "/data/" in name else b""))
    assert path.stat().st_size < 2 << 20
    with pytest.raises(ck.CheckpointError, match="is compressed, and torch.save never compresses"):
        ck.load_checkpoint(path)


def test_an_entry_that_claims_bytes_past_the_end_is_refused(tmp_path):
    import zipfile

    path = tmp_path / "short.pt"
    ck.save_checkpoint(path, {"model": {"w": torch.ones(1000)}})
    info = max(zipfile.ZipFile(path).infolist(), key=lambda i: i.file_size)
    data = path.read_bytes()
    # grow the largest entry's recorded size in its central-directory record (the local header too)
    old = info.file_size.to_bytes(4, "little") * 2
    new = (info.file_size + 10_000_000).to_bytes(4, "little") * 2
    assert data.count(old) >= 1
    path.write_bytes(data.replace(old, new))
    with pytest.raises(ck.CheckpointError, match="corrupt or truncated"):
        ck.load_checkpoint(path)


def test_the_grader_refuses_a_checkpoint_of_another_profile(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    ck.save_checkpoint(path, {"model": {"w": torch.ones(2)}}, meta={"profile": "full"})
    assert ck.load_checkpoint(path)[1]["profile"] == "full"  # students may load anything they saved
    monkeypatch.setenv(ck.REQUIRE_PROFILE_ENV, "fast")
    with pytest.raises(ck.CheckpointError, match="saved under the 'full' profile, but this course grades the 'fast'"):
        ck.load_checkpoint(path)
    monkeypatch.setenv(ck.REQUIRE_PROFILE_ENV, "full")
    assert ck.load_checkpoint(path)[0]["model"]["w"].shape == (2,)


def test_timeouts_are_checked_and_default_for_what_a_profile_leaves_out(monkeypatch):
    monkeypatch.setitem(profiles.ASSIGNMENT_MODULES, "99_toy", "toy_does_not_exist")
    full, fast = ToyProfile(20, 1e-3, "cifar10"), ToyProfile(2, 1e-3, "mnist5k")
    with pytest.raises(ValueError, match="cannot be shorter than one cell"):
        profiles.Timeouts(cell_s=600, submission_s=60)
    with pytest.raises(ValueError, match="positive whole seconds"):
        profiles.Timeouts(cell_s=0, submission_s=60)
    with pytest.raises(ValueError, match="unknown profiles"):
        profiles.register("99_toy", full=full, fast=fast, cost="seconds", timeouts={"medium": profiles.Timeouts(1, 2)})
    try:
        profiles.register("99_toy", full=full, fast=fast, cost="seconds", timeouts={"full": profiles.Timeouts(7, 70)})
        assert profiles.grading_timeouts("99_toy", "full") == profiles.Timeouts(7, 70)
        assert profiles.grading_timeouts("99_toy", "fast") == profiles.DEFAULT_TIMEOUTS
    finally:
        profiles._REGISTRY.pop("99_toy", None)
        profiles._TIMEOUTS.pop("99_toy", None)
    assert profiles.grading_timeouts("00_not_an_assignment", "full") == profiles.DEFAULT_TIMEOUTS
    with pytest.raises(ValueError, match="unknown profile 'medium'"):
        profiles.grading_timeouts("01_gan", "medium")
