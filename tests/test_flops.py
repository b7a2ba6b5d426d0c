"""course_lib.flops: FLOP counts against closed forms, and the prediction arithmetic."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.flops import matmul_flops_per_second, predict_epoch, step_flops


def test_linear_flops_match_the_closed_form():
    B, n_in, n_out = 7, 13, 5
    layer = nn.Linear(n_in, n_out)
    x = torch.randn(B, n_in)
    assert step_flops(lambda: layer(x)) == 2 * B * n_in * n_out  # one multiply-add per weight per row
    # a training step: forward, grad wrt the input and wrt the weight, each 2 B in out
    assert step_flops(lambda: layer(x.requires_grad_()).sum().backward()) == 6 * B * n_in * n_out


def test_conv_flops_match_the_closed_form():
    B, c_in, c_out, k, H = 2, 3, 4, 3, 8
    conv = nn.Conv2d(c_in, c_out, k, stride=2, padding=1)
    h_out = (H + 2 - k) // 2 + 1
    assert step_flops(lambda: conv(torch.randn(B, c_in, H, H))) == 2 * B * c_out * h_out * h_out * c_in * k * k


def test_predict_epoch_divides_the_step_flops_by_the_rate():
    layer = nn.Linear(16, 8)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.randn(4, 16)

    def step():
        opt.zero_grad()
        layer(x).square().mean().backward()
        opt.step()

    out = predict_epoch(step, steps_per_epoch=10, device="cpu", rate=1e9, timed_steps=2)
    flops = 2 * 4 * 16 * 8 * 2  # forward + weight gradient (x needs no gradient)
    assert out["gflop_per_step"] == pytest.approx(flops / 1e9)
    assert out["predicted_s"] == pytest.approx(flops * 10 / 1e9)
    assert out["measured_s"] > 0 and out["measured_over_predicted"] == pytest.approx(
        out["measured_s"] / out["predicted_s"]
    )


def test_matmul_rate_is_positive_and_finite():
    rate = matmul_flops_per_second("cpu", n=64, repeats=2)
    assert 0 < rate < float("inf")


def test_gan_penalty_steps_are_counted_like_flop_counter_mode_counts_the_rest():
    """autograder.bench.gan's counter: FlopCounterMode's numbers where that can run (no penalty), the closed form of
    a linear layer's double backward where it cannot (the penalty's autograd.grad on a leaf)."""
    from autograder.bench.gan import CountFlops, iteration_flops
    from course_lib.profiles import get_profile

    cfg = get_profile("01_gan", "full", width=8)
    plain = iteration_flops(cfg, "lsgan", batch=2)
    with_penalty = iteration_flops(cfg, "wgan_gp", batch=2)
    assert with_penalty > plain > 0
    B, n_in = 3, 11
    layer = nn.Linear(n_in, 1)
    x = torch.randn(B, n_in, requires_grad=True)
    with CountFlops() as counter:
        (grad,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
        grad.norm().backward()
    # forward and the input gradient: 2 B n_in each; the penalty's backward: the weight's gradient, 2 B n_in
    assert counter.total == 3 * 2 * B * n_in
    with CountFlops() as counter:
        layer(x).sum().backward()
    assert counter.total == step_flops(lambda: layer(x).sum().backward())
