"""03_diffusion: the solution's functions, the reference and the course_lib pieces against independent
references (diffusers' DDPMScheduler / DDIMScheduler with our betas, closed forms, Monte Carlo moments)."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import solution_functions
from diffusers import DDIMScheduler, DDPMScheduler

from autograder.assignments.diffusion import reference as ref
from course_lib.assignments.diffusion import widgets as widget
from course_lib.assignments.diffusion.train import TrainConfig, train_diffusion
from course_lib.diffusion import (
    SCHEDULE_FIELDS,
    DiffusionSchedule,
    beta_schedule,
    cosine_beta_schedule,
    ddim_timesteps,
    extract,
    linear_beta_schedule,
    load_resized,
    pretrained_path,
    sample_ddim,
    sample_ddpm,
)
from course_lib.nets.unet import UNet
from course_lib.profiles import get_profile

NAME = "03_diffusion"


@pytest.fixture(scope="module")
def sol():
    return solution_functions(NAME)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return UNet(1, base=8, mults=(1, 2)).eval()


def gen(seed):
    return torch.Generator().manual_seed(seed)


def full(v, n=2):
    return torch.full((n,), v, dtype=torch.long)


# ---------------------------------------------------------------- schedules


def test_given_schedules_match_diffusers():
    # diffusers' "linear" is Ho et al.'s 1e-4 .. 0.02 at T = 1000; "squaredcos_cap_v2" is Nichol & Dhariwal's cosine
    lin = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    assert torch.allclose(linear_beta_schedule(1000).float(), lin.betas, atol=1e-7)
    cos = DDPMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2")
    # diffusers evaluates the cosine at t/T with s = 0.008 the same way (but without dividing by f(0))
    assert torch.allclose(cosine_beta_schedule(100).float(), cos.betas, atol=1e-5)
    with pytest.raises(ValueError, match="linear"):
        beta_schedule("quadratic", 10)


@pytest.mark.parametrize("T", [10, 100, 1000])
def test_make_schedule_matches_diffusers(sol, T):
    betas = cosine_beta_schedule(T)
    s = sol.make_schedule(betas)
    d = DDPMScheduler(num_train_timesteps=T, trained_betas=betas.numpy())
    assert all(getattr(s, f).dtype == torch.float32 and getattr(s, f).shape == (T,) for f in SCHEDULE_FIELDS)
    assert torch.allclose(s.alphas_cumprod, d.alphas_cumprod, atol=1e-6)
    var = torch.stack([d._get_variance(t) for t in range(T)])
    # diffusers computes in float32: 1 - alpha-bar of the first steps loses ~3 digits at T = 1000
    # (test_make_schedule_closed_forms checks the float64 precision)
    assert torch.allclose(s.posterior_variance[1:], var[1:], rtol=1e-4 if T <= 100 else 2e-3, atol=1e-10)
    assert s.posterior_variance[0] == 0


def test_make_schedule_closed_forms(sol):
    s = sol.make_schedule(torch.full((50,), 0.02, dtype=torch.float64))
    t = torch.arange(50, dtype=torch.float64)
    assert torch.allclose(s.alphas_cumprod.double(), 0.98 ** (t + 1), rtol=1e-6)
    # Bayes: 1 / beta-tilde = 1 / (1 - abar_{t-1}) + alpha_t / beta_t, for t >= 1
    abp = 0.98**t
    want = 1 / (1 / (1 - abp[1:]) + 0.98 / 0.02)
    assert torch.allclose(s.posterior_variance[1:].double(), want, rtol=1e-5)
    assert torch.allclose(s.posterior_log_variance_clipped[0], s.posterior_log_variance_clipped[1])


def test_make_schedule_is_float64_inside(sol):
    s = sol.make_schedule(linear_beta_schedule(1000))
    assert abs(s.sqrt_one_minus_alphas_cumprod[0].item() - 1e-2) < 1e-8


def test_reference_schedule_matches_solution(sol):
    betas = cosine_beta_schedule(100)
    a, b = sol.make_schedule(betas), ref.make_schedule(betas)
    for f in SCHEDULE_FIELDS:
        assert torch.allclose(getattr(a, f), getattr(b, f), rtol=1e-5, atol=1e-7), f


def test_schedule_container_checks_shapes_and_moves():
    s = ref.make_schedule(cosine_beta_schedule(5))
    assert s.num_timesteps == 5 and s.to("cpu").betas.device.type == "cpu"
    fields = {f: getattr(s, f) for f in SCHEDULE_FIELDS}
    with pytest.raises(ValueError, match="entries"):
        DiffusionSchedule(**{**fields, "alphas": fields["alphas"][:3]})
    with pytest.raises(TypeError):
        DiffusionSchedule(**{**fields, "betas": [0.1] * 5})


def test_extract_shapes():
    a = torch.arange(10.0)
    out = extract(a, torch.tensor([3, 7]), (2, 3, 4, 4))
    assert out.shape == (2, 1, 1, 1) and out.flatten().tolist() == [3.0, 7.0]


# ---------------------------------------------------------------- forward process and posterior


def test_q_sample_matches_diffusers_add_noise(sol):
    betas = cosine_beta_schedule(100)
    d = DDPMScheduler(num_train_timesteps=100, trained_betas=betas.numpy())
    g = gen(0)
    x0, eps = torch.rand(8, 3, 5, 5, generator=g) * 2 - 1, torch.randn(8, 3, 5, 5, generator=g)
    t = torch.randint(0, 100, (8,), generator=g)
    assert torch.allclose(sol.q_sample(x0, t, eps, sol.make_schedule(betas)), d.add_noise(x0, eps, t), atol=1e-5)


def test_q_sample_moments(sol):
    s = sol.make_schedule(cosine_beta_schedule(100))
    n = 40000
    for t in (5, 50, 95):
        x = sol.q_sample(torch.full((n, 1, 1, 1), -0.7), full(t, n), torch.randn(n, 1, 1, 1, generator=gen(t)), s)
        ab = s.alphas_cumprod[t].item()
        assert abs(x.mean().item() + 0.7 * math.sqrt(ab)) < 0.02
        assert abs(x.var().item() - (1 - ab)) < 0.02


def test_predict_start_inverts_q_sample(sol):
    s = sol.make_schedule(cosine_beta_schedule(100))
    g = gen(1)
    x0, eps = torch.rand(6, 1, 4, 4, generator=g) * 2 - 1, torch.randn(6, 1, 4, 4, generator=g)
    t = torch.tensor([0, 1, 30, 60, 90, 98])
    assert torch.allclose(sol.predict_start_from_noise(sol.q_sample(x0, t, eps, s), t, eps, s), x0, atol=1e-3)


def test_q_posterior_is_bayes(sol):
    # sample the joint q(x_{t-1}, x_t | x_0) and regress x_{t-1} on x_t: slope coef2, residual variance beta-tilde
    betas = cosine_beta_schedule(30)
    s = sol.make_schedule(betas)
    t, n, x0 = 12, 200000, 0.4
    g = gen(2)
    ab_prev = s.alphas_cumprod[t - 1].double()
    x_prev = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * torch.randn(n, generator=g, dtype=torch.float64)
    x_t = (1 - betas[t]).sqrt() * x_prev + betas[t].sqrt() * torch.randn(n, generator=g, dtype=torch.float64)
    mean, var, _ = sol.q_posterior(torch.full((n, 1, 1, 1), x0), x_t.float().view(n, 1, 1, 1), full(t, n), s)
    resid = x_prev - mean.double().flatten()
    assert abs(resid.mean().item()) < 3e-3
    assert abs(resid.var().item() / var.flatten()[0].item() - 1) < 0.02


def test_ddpm_loss_matches_reference_and_is_a_mean(sol, net):
    s = ref.make_schedule(cosine_beta_schedule(20))
    g = gen(3)
    x0, eps = torch.rand(4, 1, 8, 8, generator=g) * 2 - 1, torch.randn(4, 1, 8, 8, generator=g)
    t = torch.tensor([0, 5, 10, 19])
    assert torch.allclose(sol.ddpm_loss(net, x0, t, eps, s), ref.ddpm_loss(net, x0, t, eps, s), atol=1e-6)
    assert torch.allclose(sol.ddpm_loss(lambda x, t: torch.zeros_like(x), x0, t, eps, s), (eps**2).mean())


# ---------------------------------------------------------------- sampling steps vs diffusers


@pytest.mark.parametrize("clip", [True, False])
def test_p_sample_matches_diffusers(sol, net, clip):
    betas = cosine_beta_schedule(20)
    s = sol.make_schedule(betas)
    d = DDPMScheduler(num_train_timesteps=20, trained_betas=betas.numpy(), clip_sample=clip)
    for t in range(20):
        x = 1.5 * torch.randn(3, 1, 8, 8, generator=gen(100 + t))
        with torch.no_grad():
            want = d.step(net(x, full(t, 3)), t, x, generator=gen(t)).prev_sample
            got = sol.p_sample(net, x, full(t, 3), torch.randn(3, 1, 8, 8, generator=gen(t)), s, clip_x0=clip)
        assert torch.allclose(got, want, atol=1e-4), t


@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
def test_ddim_step_matches_diffusers(sol, net, eta):
    betas = cosine_beta_schedule(100)
    s = sol.make_schedule(betas)
    d = DDIMScheduler(num_train_timesteps=100, trained_betas=betas.numpy(), set_alpha_to_one=True)
    d.set_timesteps(10)  # stride 10
    for t in (99, 55, 10, 9, 3):
        t_prev = t - 10 if t >= 10 else -1
        x = torch.randn(2, 1, 8, 8, generator=gen(t))
        z = torch.randn(2, 1, 8, 8, generator=gen(1000 + t))
        with torch.no_grad():
            want = d.step(net(x, full(t)), t, x, eta=eta, variance_noise=z).prev_sample
            got = sol.ddim_step(net, x, full(t), full(t_prev), z, s, eta)
        assert torch.allclose(got, want, atol=1e-4), (t, eta)


def test_ddim_eta_one_over_all_steps_is_ddpm(sol, net):
    s = sol.make_schedule(cosine_beta_schedule(20))
    for t in range(20):
        x = torch.randn(2, 1, 8, 8, generator=gen(t))
        z = torch.randn(2, 1, 8, 8, generator=gen(50 + t))
        with torch.no_grad():
            a = sol.ddim_step(net, x, full(t), full(t - 1), z, s, 1.0, clip_x0=False)
            b = sol.p_sample(net, x, full(t), z, s, clip_x0=False)
            sigma = sol.ddim_step(net, x, full(t), full(t - 1), z, s, 1.0) - sol.ddim_step(
                net, x, full(t), full(t - 1), 0 * z, s, 1.0
            )
        assert torch.allclose(a, b, atol=1e-4), t
        assert torch.allclose(sigma**2, s.posterior_variance[t] * z**2, rtol=1e-3, atol=1e-6), t


def test_reference_steps_match_diffusers(net):
    betas = cosine_beta_schedule(20)
    s = ref.make_schedule(betas)
    d = DDPMScheduler(num_train_timesteps=20, trained_betas=betas.numpy())
    x = torch.randn(2, 1, 8, 8, generator=gen(7))
    with torch.no_grad():
        for t in (19, 4, 0):
            want = d.step(net(x, full(t)), t, x, generator=gen(t)).prev_sample
            assert torch.allclose(
                ref.p_sample(net, x, full(t), torch.randn(2, 1, 8, 8, generator=gen(t)), s), want, atol=1e-4
            )


def test_ddim_timesteps():
    assert ddim_timesteps(100, 100) == list(range(99, -1, -1))
    ts = ddim_timesteps(100, 10)
    assert ts[0] == 99 and ts[-1] == 0 and len(ts) == 10 and all(a > b for a, b in zip(ts, ts[1:]))
    with pytest.raises(ValueError):
        ddim_timesteps(10, 11)


def test_sampling_loops_are_seeded_and_ddim_with_all_steps_and_eta_one_is_ddpm(sol, net):
    s = sol.make_schedule(cosine_beta_schedule(10))
    shape = (3, 1, 8, 8)
    a = sample_ddpm(net, sol.p_sample, s, shape, generator=gen(0), clip_x0=False, show_progress=False)
    b = sample_ddpm(net, sol.p_sample, s, shape, generator=gen(0), clip_x0=False, show_progress=False)
    c = sample_ddim(
        net, sol.ddim_step, s, shape, steps=10, eta=1.0, generator=gen(0), clip_x0=False, show_progress=False
    )
    assert torch.equal(a, b)
    # DDIM draws one noise per step like DDPM, so eta = 1 over all steps reproduces DDPM's samples exactly
    assert torch.allclose(a, c, atol=1e-3)
    d1 = sample_ddim(net, sol.ddim_step, s, shape, steps=4, generator=gen(0), show_progress=False)
    d2, kept = sample_ddim(net, sol.ddim_step, s, shape, steps=4, generator=gen(0), record=[9], show_progress=False)
    assert torch.equal(d1, d2) and set(kept) == {9}


def test_graded_samples_draw_the_profiles_count_per_kind(sol, net):
    """The graded DDPM FID draws ``fid_samples_ddpm`` samples where a profile sets them (the full profile: 2,000
    of 1,000 steps each), DDIM ``fid_samples``; the noise comes from one seeded stream, so a larger set starts
    with the same first chunk of ``sample_batch`` samples."""
    from course_lib.diffusion import graded_samples
    from course_lib.profiles import override

    cfg = override(
        get_profile(NAME, "fast"), image_size=8, timesteps=10, ddim_steps=(3,), ddim_eval_steps=3, sample_batch=2
    )
    s = sol.make_schedule(cosine_beta_schedule(10))
    few = override(cfg, fid_samples=5, fid_samples_ddpm=3)
    ddpm, ddim = (
        graded_samples(k, f, net, s, few, device="cpu") for k, f in [("ddpm", sol.p_sample), ("ddim", sol.ddim_step)]
    )
    assert ddpm.shape == (3, 1, 8, 8) and ddim.shape == (5, 1, 8, 8)
    assert torch.equal(
        graded_samples("ddpm", sol.p_sample, net, s, override(cfg, fid_samples=5), device="cpu")[:2], ddpm[:2]
    )
    full_profile = get_profile(NAME, "full")
    assert (full_profile.graded_sample_count("ddpm"), full_profile.graded_sample_count("ddim")) == (2_000, 10_000)
    with pytest.raises(ValueError, match="kind"):
        graded_samples("ddgan", sol.p_sample, net, s, few, device="cpu")


# ---------------------------------------------------------------- net, training, widget, assets


def test_unet_shapes_and_errors():
    m = UNet(3, base=8, mults=(1, 2, 2), attention=True)
    assert m(torch.randn(2, 3, 16, 16), torch.tensor([0, 5])).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="t must"):
        m(torch.randn(2, 3, 16, 16), torch.tensor(3))


def test_profiles():
    fast, fullp = get_profile(NAME, "fast"), get_profile(NAME, "full")
    assert (fullp.dataset, fullp.image_size, fullp.timesteps, fullp.base, fullp.mults) == (
        "cifar10",
        32,
        1000,
        64,
        (1, 2, 4, 8),
    )
    assert fullp.max_fid_ddpm == 60 and fullp.max_fid_ddim == 60 and fullp.ddim_eval_steps == 100
    assert fullp.extractor == "inception-clean" and fullp.fid_samples == 10_000
    # sampling uses the DDPM paper's CIFAR-10 model, so the schedule is its own; training is a shorter, open question
    assert (fullp.schedule, fullp.pretrained_hub, fullp.steps) == ("linear", "google/ddpm-cifar10-32", 20_000)
    assert fullp.max_heldout_loss == math.inf
    assert fast.dataset == "mnist5k" and fast.extractor == "digits"
    with pytest.raises(ValueError, match="schedule"):
        get_profile(NAME, "fast", schedule="quadratic")


def test_pretrained_asset_is_small_and_loads():
    cfg = get_profile(NAME, "fast")
    path = pretrained_path(cfg.pretrained)
    assert path.stat().st_size < 2 * 2**20
    assert isinstance(ref.load_model(path, cfg), UNet)
    side = path.with_suffix(".json").read_text()
    assert "train_diffusion_fast.py" in side


def test_train_diffusion_lowers_the_loss(sol):
    data = load_resized("mnist5k", "val", 8)
    torch.manual_seed(0)
    model = UNet(1, base=8, mults=(1, 2))
    s = sol.make_schedule(cosine_beta_schedule(20))
    hist = train_diffusion(
        model,
        sol.ddpm_loss,
        data,
        s,
        config=TrainConfig(steps=40, batch_size=64, lr=2e-3, warmup=5, ema_decay=0.0, log_every=10, seed=0),
    )
    assert hist["step"] == [10, 20, 30, 40] and hist["loss"][-1] < hist["loss"][0]
    with pytest.raises(ValueError, match="scalar"):
        train_diffusion(
            model,
            lambda *a: torch.zeros(3, requires_grad=True),
            data,
            s,
            config=TrainConfig(steps=1, batch_size=8, lr=1e-3, warmup=0, ema_decay=0.0, log_every=1, seed=0),
        )


def test_widget_core(sol, net):
    s = sol.make_schedule(cosine_beta_schedule(10))
    traj = widget.ddpm_trajectory(net, sol.p_sample, sol.predict_start_from_noise, s, (2, 1, 8, 8), generator=gen(0))
    assert traj["x_t"].shape == (10, 2, 1, 8, 8) and traj["x0_hat"].shape == (10, 2, 1, 8, 8)
    assert traj["x0_hat"].abs().max() <= 1
    fig = widget.trajectory_frame(traj, 4)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError):
        widget.trajectory_frame(traj, 10)
    widget.trajectory_slider(traj)  # static fallback in tests


def test_loss_threshold_rejects_an_untrained_model(tmp_path):
    from course_lib.checkpoints import save_checkpoint

    cfg = get_profile(NAME, "fast")
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "ddpm.pt", {"model": ref.build_model(cfg).state_dict()}, meta={"profile": "fast"})
    with pytest.raises(AssertionError, match="held-out"):
        ref.check_loss_threshold(path)
    with pytest.raises(AssertionError, match="no checkpoint"):
        ref.check_loss_threshold(tmp_path / "missing.pt")
