"""Opt-in fast paths (course_lib.device.prepare_model).

References: the same model without the flag (channels_last, torch.compile with the cheap "eager"
backend) and the training loop with prepare_model replaced by the identity (flags off).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autograder.assignments.vae.reference import vae_loss
from course_lib.assignments.vae import train as vae_train
from course_lib.device import compile_backend_from_env, prepare_model
from course_lib.nets.conv_vae import build_model

FLAGS = ("COURSE_CHANNELS_LAST", "COURSE_COMPILE", "COURSE_CUDNN_BENCHMARK")


@pytest.fixture(autouse=True)
def _no_flags(monkeypatch):
    for name in FLAGS:
        monkeypatch.delenv(name, raising=False)
    yield
    torch._dynamo.reset()


def _vae(seed=0):
    torch.manual_seed(seed)
    return build_model("vae", latent_dim=8, in_channels=3, image_size=16, widths=(4, 8, 8, 16))


def _batch(seed=1, b=6):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, 16, 16, generator=g) * 2 - 1, torch.randn(b, 8, generator=g)


def _step_grads(model, x, eps):
    loss, _ = vae_loss(model, x, eps, 1.0)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def test_flags_off_by_default_leave_the_model_untouched():
    model = _vae()
    before = {n: (p.data_ptr(), p.stride()) for n, p in model.named_parameters()}
    assert prepare_model(model, "cpu", compile_modules=("encoder", "decoder")) is model
    assert {n: (p.data_ptr(), p.stride()) for n, p in model.named_parameters()} == before
    assert all(m._compiled_call_impl is None for m in model.modules())
    assert compile_backend_from_env() is None


def test_flags_off_training_is_bit_identical_to_a_loop_without_the_helper(monkeypatch):
    images = torch.rand(40, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    config = vae_train.TrainConfig(epochs=2, batch_size=16, lr=1e-3, grad_clip=1.0, seed=0, val_seed=1234)

    def run():
        return vae_train.train(
            _vae(), vae_loss, images, images[:8], config=config, beta_schedule=lambda e: 1.0, device="cpu"
        )

    default = run()
    monkeypatch.setenv("COURSE_CHANNELS_LAST", "0")
    monkeypatch.setenv("COURSE_COMPILE", "0")
    explicit_off = run()
    monkeypatch.setattr(vae_train, "prepare_model", lambda model, *a, **k: model)
    without_helper = run()
    assert default == without_helper == explicit_off  # exact float equality, every epoch


def test_channels_last_step_matches_the_default_layout():
    plain, fast = _vae(), _vae()
    prepare_model(fast, "cpu", channels_last=True)
    conv = fast.encoder.convs[2].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    x, eps = _batch()
    loss_plain, grads_plain = _step_grads(plain, x, eps)
    loss_fast, grads_fast = _step_grads(fast, x, eps)
    torch.testing.assert_close(loss_fast, loss_plain, rtol=1e-5, atol=1e-4)
    for name, g in grads_plain.items():
        torch.testing.assert_close(grads_fast[name], g, rtol=1e-4, atol=1e-5, msg=name)


def test_channels_last_from_the_environment_trains_like_the_default(monkeypatch):
    images = torch.rand(32, 3, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1
    config = vae_train.TrainConfig(epochs=1, batch_size=16, lr=1e-3, grad_clip=1.0, seed=0, val_seed=1234)

    def run():
        model = _vae()
        hist = vae_train.train(
            model, vae_loss, images, images[:8], config=config, beta_schedule=lambda e: 1.0, device="cpu"
        )
        return model, hist

    _, off = run()
    monkeypatch.setenv("COURSE_CHANNELS_LAST", "1")
    model, on = run()
    kernels = [p for p in model.parameters() if p.dim() == 4 and p.shape[1] > 1]  # conv weights with C > 1
    assert kernels and all(
        p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous() for p in kernels
    )
    for key in off:
        assert on[key] == pytest.approx(off[key], rel=1e-4), key


def test_compile_with_the_eager_backend_gives_the_same_outputs_and_gradients():
    from torch._dynamo.utils import counters

    counters.clear()
    plain, fast = _vae(), _vae()
    prepare_model(fast, "cpu", compile="eager", compile_modules=("encoder", "decoder"))
    assert fast.encoder._compiled_call_impl is not None and fast.decoder._compiled_call_impl is not None
    assert list(fast.state_dict()) == list(plain.state_dict())  # checkpoints keep their parameter names
    x, eps = _batch()
    loss_plain, grads_plain = _step_grads(plain, x, eps)
    loss_fast, grads_fast = _step_grads(fast, x, eps)
    assert counters["stats"]["unique_graphs"] >= 2  # dynamo really traced the encoder and the decoder
    torch.testing.assert_close(loss_fast, loss_plain)
    for name, g in grads_plain.items():
        torch.testing.assert_close(grads_fast[name], g, msg=name)


def test_compile_skips_identity_submodules_and_compiles_the_model_by_default():
    model = nn.Sequential(nn.Linear(3, 3))
    model.predictor = nn.Identity()
    prepare_model(model, "cpu", compile="eager", compile_modules=("predictor", "0"))
    assert model.predictor._compiled_call_impl is None and model[0]._compiled_call_impl is not None
    whole = nn.Linear(2, 2)
    prepare_model(whole, "cpu", compile="eager")
    assert whole._compiled_call_impl is not None


@pytest.mark.parametrize("value, backend", [("1", "inductor"), ("eager", "eager"), ("0", None), ("", None)])
def test_compile_env_values(monkeypatch, value, backend):
    monkeypatch.setenv("COURSE_COMPILE", value)
    assert compile_backend_from_env() == backend


@pytest.mark.parametrize("name, value", [("COURSE_COMPILE", "fastest"), ("COURSE_CHANNELS_LAST", "maybe")])
def test_unknown_flag_values_raise(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        prepare_model(nn.Linear(2, 2), "cpu")


def test_cudnn_benchmark_is_left_alone_on_the_cpu():
    before = torch.backends.cudnn.benchmark
    prepare_model(nn.Conv2d(2, 2, 3), "cpu", channels_last=True)
    assert torch.backends.cudnn.benchmark == before


def test_unknown_flag_values_say_what_to_set(monkeypatch):
    monkeypatch.setenv("COURSE_CHANNELS_LAST", "maybe")
    with pytest.raises(
        ValueError, match=r"COURSE_CHANNELS_LAST='maybe' is not understood; set it to 1 \(on\) or 0 \(off\)"
    ):
        prepare_model(nn.Linear(2, 2), "cpu")
    monkeypatch.delenv("COURSE_CHANNELS_LAST")
    monkeypatch.setenv("COURSE_COMPILE", "fastest")
    with pytest.raises(ValueError, match=r"COURSE_COMPILE='fastest' is not understood; set it to 0, 1 or a backend in"):
        prepare_model(nn.Linear(2, 2), "cpu")
