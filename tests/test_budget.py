"""autograder.bench.budget: its FLOP counter against closed forms and published figures, docs/budget.json against a
fresh count, and the profile's lengths reaching the items."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.bench import budget
from autograder.bench.gan import CountFlops
from course_lib.profiles import get_profile


def test_counter_matches_the_closed_forms_of_conv_linear_and_attention():
    B, c_in, c_out, k, H = 3, 5, 7, 3, 9
    conv = nn.Conv2d(c_in, c_out, k, stride=2, padding=1)
    x = torch.randn(B, c_in, H, H)
    h_out = (H + 2 - k) // 2 + 1
    macs = B * c_out * h_out * h_out * c_in * k * k  # one multiply-add per output element per weight it sees
    assert budget.count_flops(lambda: conv(x)) == 2 * macs
    # a training step: forward, then the weight's gradient (x needs none): two convolutions of the same size
    assert budget.count_flops(lambda: conv(x).sum().backward()) == 4 * macs
    n_in, n_out = 11, 4
    layer = nn.Linear(n_in, n_out)
    assert budget.count_flops(lambda: layer(torch.randn(B, n_in, requires_grad=True)).sum().backward()) == (
        6 * B * n_in * n_out
    )
    # attention on the CPU (the kernel flop_registry has no formula for): Q K^T and P V, each 2 B L S E
    L, S, E = 6, 8, 4
    q = torch.randn(B, L, E, requires_grad=True)
    k_, v = torch.randn(B, S, E, requires_grad=True), torch.randn(B, S, E, requires_grad=True)
    assert budget.count_flops(lambda: F.scaled_dot_product_attention(q, k_, v)) == 2 * (2 * B * L * S * E)
    # backward: Q K^T again, then dV = P^T dO, dP = dO V^T, dQ = dS K, dK = dS^T Q
    total = budget.count_flops(lambda: F.scaled_dot_product_attention(q, k_, v).sum().backward())
    assert total == (2 + 5) * (2 * B * L * S * E)
    with CountFlops() as plain:  # what the counter adds: flop_registry alone misses the CPU kernel
        F.scaled_dot_product_attention(q, k_, v).sum().backward()
    assert plain.total == 0


def test_resnet18_forward_matches_its_convolutions_and_the_published_count():
    from course_lib.nets.simsiam import CifarResNet18

    net = CifarResNet18(3).eval()
    flops = budget.per_image(net, (3, 32, 32), 2)
    # by hand: the 3x3 stem, then per stage of side s and width c two blocks of two 3x3 convolutions (the first
    # of a downsampling stage from c / 2 channels), and a 1x1 projection shortcut where the width doubles
    macs = 32 * 32 * 64 * 3 * 9
    for c, s in ((64, 32), (128, 16), (256, 8), (512, 4)):
        c_prev = c if c == 64 else c // 2
        macs += s * s * c * c_prev * 9 + 3 * s * s * c * c * 9
        if c_prev != c:
            macs += s * s * c * c_prev
    assert flops == 2 * macs
    # the widely published figure for CIFAR ResNet-18 at 32x32 (e.g. ptflops on kuangliu/pytorch-cifar): 0.56 GMACs
    assert flops / 2 / 1e9 == pytest.approx(0.56, abs=0.005)


def test_pretrained_ddpm_config_has_the_model_pages_parameters():
    from diffusers import UNet2DModel

    from course_lib.nets.pretrained_ddpm import DDPM_CIFAR10_CONFIG

    unet = UNet2DModel(**DDPM_CIFAR10_CONFIG)
    assert round(sum(p.numel() for p in unet.parameters()) / 1e6, 1) == 35.7  # google/ddpm-cifar10-32: 35.7M params


def test_budget_json_is_what_the_tool_counts_now():
    rerun = f"re-run `{budget.COMMAND}` (with COURSE_SMOKE and COURSE_PROFILE_OVERRIDES unset) and commit the result"
    assert budget.BUDGET_JSON.exists(), f"{budget.BUDGET_JSON} is missing: {rerun}"
    stored = json.loads(budget.BUDGET_JSON.read_text())
    now = budget.budget(batch=stored["batch"])
    assert set(now["assignments"]) == set(stored["assignments"]), f"the assignments changed: {rerun}"
    for a, v in now["assignments"].items():
        old = stored["assignments"][a]
        assert v["pflop"] == pytest.approx(old["pflop"], rel=1e-6), (
            f"{a}: {v['pflop']:.6g} PFLOP now, docs/budget.json says {old['pflop']:.6g} (a profile or a loop changed): "
            f"{rerun}"
        )
    assert now["extrapolated"]["rate"] == pytest.approx(stored["extrapolated"]["rate"], rel=1e-6), rerun
    # the section of docs/benchmarks.md is generated from docs/budget.json, never edited by hand
    text = budget.BENCHMARKS_MD.read_text()
    assert budget.section(stored) in text, f"docs/benchmarks.md's budget section differs from docs/budget.json: {rerun}"


def _pflop(items: list[budget.Item]) -> dict[str, float]:
    return {i.item: i.pflop for i in items}


def test_doubling_a_run_length_doubles_that_item_only():
    full = get_profile("01_gan", "full")
    base = _pflop(budget.assignment_items("01_gan", full))
    longer = _pflop(budget.assignment_items("01_gan", get_profile("01_gan", "full", iterations=2 * full.iterations)))
    for name, value in base.items():
        if name.startswith(("train nonsaturating", "train lsgan")):
            assert longer[name] == pytest.approx(2 * value, rel=1e-9), name
        elif name.startswith(("train wgan", "graded", "FID reference")):  # their own length, or none
            assert longer[name] == pytest.approx(value, rel=1e-9), name
    diffusion = get_profile("03_diffusion", "full")
    base = _pflop(budget.assignment_items("03_diffusion", diffusion))
    longer = _pflop(
        budget.assignment_items("03_diffusion", get_profile("03_diffusion", "full", steps=2 * diffusion.steps))
    )
    (train,) = [name for name in base if name.startswith("train")]
    assert longer[train] == pytest.approx(2 * base[train], rel=1e-9)
    assert {k: v for k, v in longer.items() if k != train} == pytest.approx(
        {k: v for k, v in base.items() if k != train}
    )


def test_simsiam_ablations_follow_their_own_length_when_the_profile_has_one():
    cfg = get_profile("04_simsiam", "full")
    base = _pflop(budget.assignment_items("04_simsiam", cfg))
    if not hasattr(cfg, "ablation_epochs"):  # the ablations train for cfg.epochs, as the main run
        longer = _pflop(budget.assignment_items("04_simsiam", get_profile("04_simsiam", "full", epochs=2 * cfg.epochs)))
        doubled = [k for k in base if k.startswith("train")]
    else:
        longer = _pflop(budget.assignment_items("04_simsiam", get_profile("04_simsiam", "full", ablation_epochs=400)))
        doubled = [k for k in base if k.startswith("train simsiam_")]
        base = _pflop(budget.assignment_items("04_simsiam", get_profile("04_simsiam", "full", ablation_epochs=200)))
    for name in doubled:
        assert longer[name] == pytest.approx(2 * base[name], rel=1e-9), name


def _cost_minutes(text: str) -> tuple[float, float]:
    """The range of minutes a registered cost string claims: "about 70 min" -> (63, 77), "about 1.2 h" -> (65, 79);
    "minutes" / "a few minutes" -> (0, 10)."""
    import re

    if text in ("minutes", "a few minutes"):
        return 0.0, 10.0
    m = re.fullmatch(r"about (\d+(?:\.\d+)?) (min|minutes|h)", text)
    assert m, f"unreadable cost string {text!r}"
    value = float(m.group(1)) * (60 if m.group(2) == "h" else 1)
    return 0.9 * value, 1.1 * value


def test_registered_costs_agree_with_the_counted_budget():
    """What the notebooks' banner says each full profile costs (register's ``cost``) is never below the FLOP count
    at the assumed 25 TFLOP/s (a lower bound), and at most twice it or 10 minutes (small models are bound by
    overheads, not FLOPs: 06 and 07 say more than their FLOPs, for that)."""
    from course_lib.profiles import full_profile_costs

    stored = json.loads(budget.BUDGET_JSON.read_text())["assignments"]
    for a, text in full_profile_costs().items():
        low, high = _cost_minutes(text)
        counted = stored[a]["minutes_assumed"]
        assert high >= counted, f"{a}: the cost string {text!r} says less than the FLOP count's {counted:.1f} min"
        assert low <= max(2 * counted, 10), f"{a}: the cost string {text!r} is far above the count, {counted:.1f} min"
