"""01_gan: the solution's losses, gradient penalty and interpolation against independent references
(closed forms in numpy/scipy, torch.nn.functional.binary_cross_entropy on probabilities, per-example
autograd), the hidden tests against the common mistakes, and the course_lib pieces (nets, loop, widgets,
reference evaluator)."""

from __future__ import annotations

import dataclasses
import math

import matplotlib
import nbformat
import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F
from conftest import SOLUTIONS, solution_functions

from autograder.assignments.gan import reference as ref
from course_lib.assignments.gan import widgets as widget
from course_lib.assignments.gan.profile import VARIANTS
from course_lib.assignments.gan.train import config_for, sample, train_gan
from course_lib.data import load
from course_lib.nets import gan as gan_nets
from course_lib.nets.gan import GAN, build_critic, build_gan, build_generator
from course_lib.profiles import get_profile

matplotlib.use("Agg")
NAME = "01_gan"


@pytest.fixture(scope="module")
def sol():
    return solution_functions(NAME)


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- non-saturating losses


@pytest.mark.parametrize("shape", [(6, 1), (5,)])
def test_d_loss_nonsaturating_matches_bce_on_probabilities(sol, shape):
    g = gen(0)
    real, fake = (
        3 * torch.randn(*shape, generator=g, dtype=torch.float64),
        3 * torch.randn(*shape, generator=g, dtype=torch.float64),
    )
    pr, pf = torch.sigmoid(real), torch.sigmoid(fake)
    expected = F.binary_cross_entropy(pr, torch.ones_like(pr)) + F.binary_cross_entropy(pf, torch.zeros_like(pf))
    out = sol.d_loss_nonsaturating(real, fake)
    assert out.dim() == 0
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)


def test_d_loss_nonsaturating_closed_form_with_scipy(sol):
    real = torch.tensor([0.3, -2.0, 5.0, 0.0], dtype=torch.float64)
    fake = torch.tensor([1.0, -0.5, -4.0], dtype=torch.float64)
    expected = -np.log(scipy.special.expit(real.numpy())).mean() - np.log(1 - scipy.special.expit(fake.numpy())).mean()
    assert sol.d_loss_nonsaturating(real, fake).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("big", [100.0, 1e3, 1e5])
def test_d_loss_nonsaturating_stable_at_extreme_logits(sol, big):
    real = torch.tensor([[big], [-big]])
    fake = torch.tensor([[-big], [big]])
    naive = -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean())
    assert not torch.isfinite(naive)  # the naive formula really breaks here
    out = sol.d_loss_nonsaturating(real, fake)
    # BCE(big, 1) = 0, BCE(-big, 1) = big, BCE(-big, 0) = 0, BCE(big, 0) = big: the means are big / 2 each
    assert out.item() == pytest.approx(big, rel=1e-6)


def test_g_loss_nonsaturating_closed_form_and_gradient(sol):
    fake = torch.tensor([[-30.0], [-3.0], [0.0], [4.0]], dtype=torch.float64, requires_grad=True)
    loss = sol.g_loss_nonsaturating(fake)
    expected = np.logaddexp(0, -fake.detach().numpy()).mean()  # -log sigmoid(l) = log(1 + e^{-l})
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    (grad,) = torch.autograd.grad(loss, fake)
    # d/dl -log sigmoid(l) = -(1 - sigmoid(l)); about -1 (not 0) where D rejects the fake
    np.testing.assert_allclose(grad.numpy(), -(1 - scipy.special.expit(fake.detach().numpy())) / 4, rtol=1e-10)
    assert grad[0].item() == pytest.approx(-0.25, rel=1e-9)
    assert math.isfinite(sol.g_loss_nonsaturating(torch.tensor([-1e5])).item())


# ---------------------------------------------------------------- LSGAN


def test_lsgan_losses_closed_form(sol):
    g = gen(1)
    real, fake = (
        torch.randn(7, 1, generator=g, dtype=torch.float64),
        torch.randn(4, 1, generator=g, dtype=torch.float64),
    )
    r, f = real.numpy(), fake.numpy()
    assert sol.d_loss_lsgan(real, fake).item() == pytest.approx(
        0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(), rel=1e-12
    )
    assert sol.g_loss_lsgan(fake).item() == pytest.approx(0.5 * ((f - 1) ** 2).mean(), rel=1e-12)
    assert sol.d_loss_lsgan(torch.ones(3), torch.zeros(3)).item() == 0.0
    assert sol.g_loss_lsgan(torch.ones(3)).item() == 0.0


# ---------------------------------------------------------------- WGAN-GP


def test_wgan_losses_closed_form(sol):
    real = torch.tensor([[2.0], [0.0], [1.0]], dtype=torch.float64)
    fake = torch.tensor([[-1.0], [0.5]], dtype=torch.float64)
    gp = torch.tensor(0.25, dtype=torch.float64)
    assert sol.d_loss_wgan_gp(real, fake, gp).item() == pytest.approx(-0.25 - 1.0 + 2.5, rel=1e-12)
    assert sol.d_loss_wgan_gp(real, fake, gp, lam=1.0).item() == pytest.approx(-0.25 - 1.0 + 0.25, rel=1e-12)
    assert sol.g_loss_wgan(fake).item() == pytest.approx(0.25, rel=1e-12)


@pytest.mark.parametrize("scale", [0.01, 1.0, 7.0])
def test_gradient_penalty_of_a_linear_critic_is_exact(sol, scale):
    g = gen(2)
    w = scale * torch.randn(3 * 4 * 4, generator=g, dtype=torch.float64)
    critic = lambda x: (x.flatten(1) @ w).unsqueeze(1) + 0.7  # noqa: E731  D(x) = w . x + b
    real, fake = (
        torch.randn(5, 3, 4, 4, generator=g, dtype=torch.float64),
        torch.randn(5, 3, 4, 4, generator=g, dtype=torch.float64),
    )
    alpha = torch.rand(5, 1, 1, 1, generator=g, dtype=torch.float64)
    out = sol.gradient_penalty(critic, real, fake, alpha)
    assert out.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-10, abs=1e-12)


def test_gradient_penalty_matches_per_example_gradients(sol):
    """A conv critic: each example's gradient computed alone (one autograd call per example) as reference."""
    torch.manual_seed(0)
    critic = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.Linear(4 * 5 * 5, 1)
    ).double()
    g = gen(3)
    real, fake = (
        torch.randn(6, 2, 5, 5, generator=g, dtype=torch.float64),
        torch.randn(6, 2, 5, 5, generator=g, dtype=torch.float64),
    )
    alpha = torch.rand(6, 1, 1, 1, generator=g, dtype=torch.float64)
    terms = []
    for i in range(6):
        x = (alpha[i] * real[i] + (1 - alpha[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x)
        terms.append((grad.flatten().norm().item() - 1) ** 2)
    assert sol.gradient_penalty(critic, real, fake, alpha).item() == pytest.approx(np.mean(terms), rel=1e-10)


def test_gradient_penalty_gradient_reaches_the_critic(sol):
    lin = torch.nn.Linear(12, 1).double()
    g = gen(4)
    real, fake = (
        torch.randn(4, 3, 2, 2, generator=g, dtype=torch.float64),
        torch.randn(4, 3, 2, 2, generator=g, dtype=torch.float64),
    )
    critic = lambda x: lin(x.flatten(1))  # noqa: E731
    sol.gradient_penalty(critic, real, fake, torch.rand(4, 1, 1, 1, generator=g, dtype=torch.float64)).backward()
    w = lin.weight.detach()
    torch.testing.assert_close(lin.weight.grad, 2 * (w.norm() - 1) * w / w.norm())  # d/dw (||w|| - 1)^2


@pytest.mark.parametrize("scale", [0.3, 0.999, 1.001, 4.0])
def test_lipschitz_penalty_of_a_linear_critic_is_one_sided(sol, scale):
    """D(x) = w . x: closed form max(0, ||w|| - 1)^2; 0 below 1 (where the two-sided penalty is not), the two-sided
    value above 1."""
    g = gen(12)
    w = torch.randn(3 * 4 * 4, generator=g, dtype=torch.float64)
    w = scale * w / w.norm()
    critic = lambda x: (x.flatten(1) @ w).unsqueeze(1) - 0.3  # noqa: E731
    real, fake = (
        torch.randn(5, 3, 4, 4, generator=g, dtype=torch.float64),
        torch.randn(5, 3, 4, 4, generator=g, dtype=torch.float64),
    )
    alpha = torch.rand(5, 1, 1, 1, generator=g, dtype=torch.float64)
    out = sol.lipschitz_penalty(critic, real, fake, alpha)
    assert out.dim() == 0
    assert out.item() == pytest.approx(max(0.0, scale - 1) ** 2, rel=1e-10, abs=1e-14)
    two_sided = sol.gradient_penalty(critic, real, fake, alpha).item()
    assert (two_sided == pytest.approx(out.item(), rel=1e-10)) == (scale > 1)


def test_lipschitz_penalty_closed_form_of_a_quadratic_critic(sol):
    """D(x) = sum(c * x^2) / 2 has gradient c * x, so each example's norm is ||c * x_hat_i|| (numpy), some above 1
    and some below."""
    g = gen(13)
    c = torch.rand(2, 3, 3, generator=g, dtype=torch.float64) + 0.5
    critic = lambda x: 0.5 * (c * x**2).flatten(1).sum(1, keepdim=True)  # noqa: E731
    real = 0.4 * torch.randn(9, 2, 3, 3, generator=g, dtype=torch.float64)
    fake = 0.4 * torch.randn(9, 2, 3, 3, generator=g, dtype=torch.float64)
    alpha = torch.rand(9, 1, 1, 1, generator=g, dtype=torch.float64)
    x_hat = (alpha * real + (1 - alpha) * fake).numpy()
    norms = np.linalg.norm((c.numpy() * x_hat).reshape(9, -1), axis=1)
    assert (norms > 1).any() and (norms < 1).any()  # both sides of the clamp are exercised
    expected = np.mean(np.maximum(0.0, norms - 1) ** 2)
    assert sol.lipschitz_penalty(critic, real, fake, alpha).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_lipschitz_penalty_gradient_reaches_the_critic(sol, scale):
    lin = torch.nn.Linear(12, 1).double()
    with torch.no_grad():
        lin.weight.mul_(scale / lin.weight.norm())
    g = gen(14)
    real, fake = (
        torch.randn(4, 3, 2, 2, generator=g, dtype=torch.float64),
        torch.randn(4, 3, 2, 2, generator=g, dtype=torch.float64),
    )
    critic = lambda x: lin(x.flatten(1))  # noqa: E731
    sol.lipschitz_penalty(critic, real, fake, torch.rand(4, 1, 1, 1, generator=g, dtype=torch.float64)).backward()
    w = lin.weight.detach()
    # d/dw max(0, ||w|| - 1)^2 = 2 max(0, ||w|| - 1) w / ||w||
    torch.testing.assert_close(lin.weight.grad, 2 * max(0.0, scale - 1) * w / w.norm())


def test_interpolate_latents_matches_numpy(sol):
    g = gen(5)
    z0, z1 = torch.randn(8, generator=g), torch.randn(8, generator=g)
    alphas = np.array([0.0, 0.2, 0.75, 1.0])
    out = sol.interpolate_latents(z0, z1, torch.tensor(alphas, dtype=torch.float32))
    assert out.shape == (4, 8)
    np.testing.assert_allclose(out.numpy(), np.outer(1 - alphas, z0) + np.outer(alphas, z1), atol=1e-6)


# ---------------------------------------------------------------- hidden tests catch the common mistakes

MISTAKES = {
    # a saturating generator loss: the minimax log(1 - D(G(z)))
    "g_saturating": (
        "g_loss_nonsaturating",
        "test_g_loss_nonsaturating",
        lambda fake: -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)),
    ),
    # sigmoid then BCE on probabilities: torch clamps the log at -100
    "d_bce_on_probabilities": (
        "d_loss_nonsaturating",
        "test_d_loss_nonsaturating_stable",
        lambda r, f: (
            F.binary_cross_entropy(torch.sigmoid(r), torch.ones_like(r))
            + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f))
        ),
    ),
    # summed instead of averaged
    "d_lsgan_sum": ("d_loss_lsgan", "test_d_loss_lsgan", lambda r, f: 0.5 * ((r - 1) ** 2).sum() + 0.5 * (f**2).sum()),
    "d_lsgan_no_half": ("d_loss_lsgan", "test_d_loss_lsgan", lambda r, f: ((r - 1) ** 2).mean() + (f**2).mean()),
    # sign error in the critic loss
    "critic_sign": ("d_loss_wgan_gp", "test_d_loss_wgan_gp", lambda r, f, gp, lam=10.0: r.mean() - f.mean() + lam * gp),
    "critic_fixed_lambda": (
        "d_loss_wgan_gp",
        "test_d_loss_wgan_gp",
        lambda r, f, gp, lam=10.0: f.mean() - r.mean() + 10.0 * gp,
    ),
    "g_wgan_sign": ("g_loss_wgan", "test_g_loss_wgan", lambda f: f.mean()),
    # the one-sided penalty without its clamp (the two-sided one), or clamped on the wrong side
    "lp_two_sided": (
        "lipschitz_penalty",
        "test_lipschitz_penalty_linear",
        lambda critic, r, f, a: _penalty_at(lambda r, f, a: a * r + (1 - a) * f)(critic, r, f, a),
    ),
    "lp_wrong_side": (
        "lipschitz_penalty",
        "test_lipschitz_penalty_linear",
        lambda critic, r, f, a: _penalty_at(lambda r, f, a: a * r + (1 - a) * f, side=-1)(critic, r, f, a),
    ),
    "interp_reversed": (
        "interpolate_latents",
        "test_interpolate_latents",
        lambda z0, z1, a: torch.stack([a_ * z0 + (1 - a_) * z1 for a_ in torch.as_tensor(a)]),
    ),
}


def _penalty_at(points, side=0):
    """The two-sided penalty at ``points(real, fake, alpha)``; side=-1: only norms below 1 (a wrong clamp)."""

    def penalty(critic, real, fake, alpha):
        x = points(real, fake, alpha).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
        excess = grad.flatten(1).norm(dim=1) - 1
        return ((excess.clamp(max=0) if side < 0 else excess) ** 2).mean()

    return penalty


GP_MISTAKES = {
    "gp_on_real": _penalty_at(lambda r, f, a: r),
    "gp_on_fake": _penalty_at(lambda r, f, a: f),
    "gp_alpha_swapped": _penalty_at(lambda r, f, a: (1 - a) * r + a * f),
}


def _test_cell(grade_id):
    nb = nbformat.read(SOLUTIONS / NAME / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell.source
    raise KeyError(grade_id)


def _run_cell(sol, grade_id, **functions):
    namespace = dict(vars(sol))
    namespace.update(functions)
    exec(compile(_test_cell(grade_id), grade_id, "exec"), namespace)


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_fails_its_test_cell(sol, mistake):
    fn_name, cell, wrong = MISTAKES[mistake]
    _run_cell(sol, cell)  # the solution passes it
    with pytest.raises(AssertionError):
        _run_cell(sol, cell, **{fn_name: wrong})


@pytest.mark.parametrize("mistake", sorted(GP_MISTAKES))
def test_penalty_on_the_wrong_points_passes_visible_but_fails_hidden(sol, mistake):
    source = _test_cell("test_gradient_penalty_linear")
    visible = source.split("### BEGIN HIDDEN TESTS")[0]
    namespace = dict(vars(sol))
    namespace["gradient_penalty"] = GP_MISTAKES[mistake]
    exec(visible, namespace)  # a linear critic cannot tell where the gradient is taken
    with pytest.raises(AssertionError, match="x_hat"):
        exec(source, namespace)


# ---------------------------------------------------------------- course_lib pieces


def test_profiles_follow_the_issue():
    full, fast = get_profile(NAME, "full"), get_profile(NAME, "fast")
    assert (full.dataset, full.image_size, full.iterations, full.batch_size, full.lr, full.betas) == (
        "cub32",
        32,
        6_000,
        256,
        2e-4,
        (0.0, 0.9),
    )
    assert (full.n_critic_wgan, full.gp_lambda, full.latent_dim, full.extractor) == (5, 10.0, 128, "inception-clean")
    assert (full.fid_samples_train, full.fid_samples) == (10_000, 50_000)
    assert [full.max_fid(v) for v in VARIANTS] == [110.0, 90.0, 70.0, math.inf]  # no anchor target for WGAN-LP
    assert (full.for_variant("wgan_lp").dataset, full.for_variant("wgan_lp").fid_split) == ("svhn", "test")
    assert full.for_variant("wgan_gp") is full and config_for(full, "wgan_lp") == config_for(full, "wgan_gp")
    assert (fast.dataset, fast.extractor) == ("mnist5k", "digits")
    assert fast.for_variant("wgan_lp").dataset == "mnist5k" and config_for(fast, "wgan_lp") == config_for(
        fast, "wgan_gp"
    )
    with pytest.raises(ValueError):
        full.max_fid("minimax")


@pytest.mark.parametrize("profile", ["full", "fast"])
def test_nets_shapes(profile):
    cfg = get_profile(NAME, profile)
    gan = build_gan(cfg).eval()
    x = gan.generator(torch.randn(3, cfg.latent_dim))
    assert x.shape == (3, cfg.channels, cfg.image_size, cfg.image_size)
    assert x.abs().max() <= 1
    assert gan.critic(x).shape == (3, 1)
    assert isinstance(gan, GAN) and gan.latent_dim == cfg.latent_dim


def test_critic_has_no_batch_coupling():
    """The penalty needs per-example gradients: a critic's score of example i depends on x_i only."""
    for profile in ("full", "fast"):
        critic = build_critic(get_profile(NAME, profile)).train()
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in critic.modules())


def test_train_gan_runs_and_logs(sol):
    cfg = get_profile(NAME, "fast", width=16, latent_dim=8)
    torch.manual_seed(0)
    gan = build_gan(cfg)
    data = load("mnist5k", "val")
    calls = []

    def penalty(critic, real, fake, alpha):
        assert alpha.shape == (real.shape[0], 1, 1, 1) and 0 <= alpha.min() and alpha.max() <= 1
        calls.append(1)
        return sol.gradient_penalty(critic, real, fake, alpha)

    config = dataclasses.replace(
        config_for(get_profile(NAME, "fast"), "wgan_gp"),
        iterations=6,
        n_critic=2,
        batch_size=16,
        log_every=3,
        fid_every=3,
    )
    hist = train_gan(
        gan.generator,
        gan.critic,
        d_loss=sol.d_loss_wgan_gp,
        g_loss=sol.g_loss_wgan,
        gradient_penalty=penalty,
        data=data,
        config=config,
        fid_fn=lambda g: 1.0,
    )
    assert len(calls) == 12  # n_critic penalty calls per generator step
    assert hist["iteration"] == [3, 6] and hist["fid_iteration"] == [3, 6] and len(hist["d_loss"]) == 2
    assert all(math.isfinite(v) for v in hist["d_loss"] + hist["g_loss"])
    assert sample(gan.generator, 5).shape == (5, 1, 28, 28)
    assert config_for(get_profile(NAME, "fast"), "wgan_gp").n_critic == get_profile(NAME, "fast").n_critic_wgan


def test_widget_cores():
    cfg = get_profile(NAME, "fast", width=16, latent_dim=8)
    torch.manual_seed(0)
    G = build_generator(cfg).eval()
    z = torch.randn(8)
    grid = widget.latent_grid(G, z, dims=(2, 5), n=4, span=1.0)
    assert grid.shape == (16, 1, 28, 28)
    codes = z.expand(16, -1).clone()
    codes[:, 2] = torch.linspace(-1, 1, 4).repeat_interleave(4)
    codes[:, 5] = torch.linspace(-1, 1, 4).repeat(4)
    with torch.no_grad():
        torch.testing.assert_close(grid, G(codes).clamp(-1, 1))
    # directions: the components of z along two orthonormal rows are set to the grid's values
    q, _ = torch.linalg.qr(torch.randn(8, 2, generator=gen(15)))
    u = q.T  # (2, 8)
    grid = widget.latent_grid(G, z, directions=u, n=3, span=2.0)
    values = np.linspace(-2, 2, 3)
    proj = z.numpy() - u.numpy().T @ (u.numpy() @ z.numpy())
    codes = np.stack([proj + a * u[0].numpy() + b * u[1].numpy() for a in values for b in values])
    assert np.allclose(codes @ u.numpy().T, [[a, b] for a in values for b in values], atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(grid, G(torch.tensor(codes, dtype=torch.float32)).clamp(-1, 1), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="orthonormal"):
        widget.latent_grid(G, z, directions=2 * u)
    x0, x1 = torch.zeros(1, 2, 2), torch.ones(1, 2, 2)
    torch.testing.assert_close(
        widget.pixel_path(x0, x1, torch.tensor([0.0, 0.25, 1.0]))[:, 0, 0, 0], torch.tensor([0.0, 0.25, 1.0])
    )
    frames = widget.decode_path(G, torch.randn(5, 8))
    assert widget.walk_frame(frames, 0.5) is not None
    assert widget.compare_frame(frames, frames.flip(0), 1.0) is not None
    with pytest.raises(ValueError):
        widget.walk_frame(frames, 1.5)


# ---------------------------------------------------------------- reference evaluator and thresholds


class _Replay(torch.nn.Module):
    """A 'generator' that returns given images (ignores z): to pin the reference FID's scale."""

    def __init__(self, images):
        super().__init__()
        self.images, self.latent_dim, self.dummy = images, 4, torch.nn.Parameter(torch.zeros(1))

    def forward(self, z):
        idx = torch.arange(z.shape[0]) % self.images.shape[0]
        return self.images[idx] + 0 * z[:, :1, None, None]


def test_principal_directions_are_the_top_singular_vectors_of_a_finite_difference_jacobian():
    cfg = get_profile(NAME, "fast", width=16, latent_dim=6)
    torch.manual_seed(1)
    G = build_generator(cfg).double().eval()
    z = torch.randn(6, dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():  # central differences, one column per latent coordinate
        jac = np.stack(
            [
                ((G((z + eps * e)[None]) - G((z - eps * e)[None])) / (2 * eps)).flatten().numpy()
                for e in torch.eye(6, dtype=torch.float64)
            ],
            axis=1,
        )  # (C*H*W, D)
    _, s, vt = np.linalg.svd(jac, full_matrices=False)
    u = widget.principal_directions(G.float(), z.float(), k=2).double().numpy()
    assert u.shape == (2, 6) and s[1] > 1.01 * s[2]
    np.testing.assert_allclose(u @ u.T, np.eye(2), atol=1e-5)
    for k in range(2):  # equal up to sign (the function fixes the sign so the largest entry is positive)
        assert abs(abs(u[k] @ vt[k]) - 1) < 1e-3, (k, u[k], vt[k])
        assert u[k][np.abs(u[k]).argmax()] > 0


def test_reference_fid_separates_real_digits_from_noise():
    cfg = get_profile(NAME, "fast")
    train = load("mnist5k", "train").images
    real = ref.evaluate_generator(_Replay(train[torch.randperm(len(train), generator=gen(0))]), cfg)
    noise = ref.evaluate_generator(_Replay(torch.rand(1000, 1, 28, 28, generator=gen(1)) * 2 - 1), cfg)
    assert real < 20, real
    for v in VARIANTS:
        assert real < cfg.max_fid(v) < noise, (v, real, cfg.max_fid(v), noise)
    nan = ref.evaluate_generator(_Replay(torch.full((10, 1, 28, 28), float("nan"))), cfg)
    assert nan == math.inf


def test_reference_missing_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(AssertionError, match="run the training cell"):
        ref.evaluate_checkpoint(tmp_path / "lsgan.pt", get_profile(NAME, "fast"))


@pytest.mark.parametrize("arch", ["resnet", "dcgan"])
def test_full_profile_nets_train_a_few_steps(sol, arch):
    """The full profile's ResNet pair (and the DCGAN alternative), narrowed, through the loop with WGAN-GP, on
    synthetic 32x32 colour images."""
    from course_lib.data import Dataset

    cfg = get_profile(NAME, "full", width=8, arch=arch)
    torch.manual_seed(0)
    gan = build_gan(cfg)
    images = torch.rand(32, 3, 32, 32, generator=gen(9)) * 2 - 1
    data = Dataset(images=images, labels=torch.zeros(32, dtype=torch.long), name="synthetic32", split="train")
    hist = train_gan(
        gan.generator,
        gan.critic,
        d_loss=sol.d_loss_wgan_gp,
        g_loss=sol.g_loss_wgan,
        gradient_penalty=sol.gradient_penalty,
        data=data,
        config=dataclasses.replace(
            config_for(cfg, "wgan_gp"), iterations=2, n_critic=2, batch_size=8, log_every=1, fid_every=0
        ),
    )
    assert len(hist["d_loss"]) == 2 and all(math.isfinite(v) for v in hist["d_loss"])


# ---------------------------------------------------------------- the full profile's ResNet pair (CMU 16-824)


def test_full_profile_uses_the_anchors_resnet_and_fast_keeps_its_mlp():
    full, fast = get_profile(NAME, "full"), get_profile(NAME, "fast")
    assert (full.arch, full.width, full.latent_dim) == ("resnet", 128, 128)
    assert isinstance(build_generator(full), gan_nets.ResNetGenerator) and isinstance(
        build_critic(full), gan_nets.ResNetCritic
    )
    assert fast.arch == "mlp" and isinstance(build_critic(fast), gan_nets.MLPCritic)
    with pytest.raises(ValueError, match="arch must be one of 'mlp', 'dcgan', 'resnet'"):
        get_profile(NAME, "full", arch="resnet18")


@pytest.mark.parametrize("width", [8, 128])
def test_resnet_shapes_on_32x32_colour(width):
    cfg = get_profile(NAME, "full", width=width)
    torch.manual_seed(0)
    gan = build_gan(cfg).eval()
    z = torch.randn(5, cfg.latent_dim, generator=gen(1))
    x = gan.generator(z)
    assert x.shape == (5, 3, 32, 32) and x.abs().max() <= 1
    assert gan.critic(x).shape == (5, 1) and gan.critic(torch.zeros(2, 3, 32, 32)).shape == (2, 1)
    with pytest.raises(ValueError, match="32x32"):
        gan_nets.ResNetGenerator(image_size=28)


def test_resnet_resampling_is_the_anchors_pixel_shuffle_and_mean_pool():
    """Nearest-neighbour upsampling as the anchor defines it (each channel repeated 4 times, then PixelShuffle(2)),
    and its mean pooling (PixelUnshuffle(2), then the mean over the 4 sub-positions of each channel)."""
    x = torch.randn(2, 3, 4, 6, generator=gen(2))  # (B, C, H, W)
    up = torch.nn.PixelShuffle(2)(x.repeat_interleave(4, dim=1))  # (B, C, 2H, 2W)
    assert torch.equal(gan_nets._upsample(x), up)
    pooled = torch.nn.PixelUnshuffle(2)(x).view(2, 3, 4, 2, 3).mean(2)  # (B, C, H/2, W/2)
    torch.testing.assert_close(F.avg_pool2d(x, 2), pooled)


@pytest.mark.parametrize("width, latent_dim", [(128, 128), (8, 16)])
def test_resnet_parameter_count_from_the_layer_list(width, latent_dim):
    """Counted by hand from the anchor's layer list (a conv k x k from a to b has k*k*a*b weights + b biases
    unless bias=False; BatchNorm2d(c) has 2c; Linear(a, b) has a*b + b), against the modules' parameters."""
    W, D, C = width, latent_dim, 3
    bn = lambda c: 2 * c  # noqa: E731
    conv = lambda k, a, b, bias=True: k * k * a * b + (b if bias else 0)  # noqa: E731
    # generator: dense D -> 16W; 3 x [BN(W), conv3(W, W, no bias), BN(W), conv3(W, W), shortcut conv1(W, W)];
    # BN(W), conv3(W, C)
    block_up = bn(W) + conv(3, W, W, bias=False) + bn(W) + conv(3, W, W) + conv(1, W, W)
    generator = (D * 16 * W + 16 * W) + 3 * block_up + bn(W) + conv(3, W, C)
    # critic: down(C -> W) = conv3(C, W), conv3(W, W), conv1(C, W); down(W -> W) the same from W; 2 x [conv3, conv3];
    # dense W -> 1
    critic = (
        (conv(3, C, W) + conv(3, W, W) + conv(1, C, W))
        + (conv(3, W, W) + conv(3, W, W) + conv(1, W, W))
        + 2 * (conv(3, W, W) + conv(3, W, W))
        + (W + 1)
    )
    gan = build_gan(get_profile(NAME, "full", width=W, latent_dim=D))
    assert sum(p.numel() for p in gan.generator.parameters()) == generator
    assert sum(p.numel() for p in gan.critic.parameters()) == critic
    if (
        W == 128 and D == 128
    ):  # the anchor's sizes, in closed form: 16W(D + 1) + 3(19W^2 + 6W) + 29W + 3 and 64W^2 + 41W + 1
        assert (generator, critic) == (
            16 * 128 * 129 + 3 * (19 * 128**2 + 6 * 128) + 29 * 128 + 3,
            64 * 128**2 + 41 * 128 + 1,
        )


def test_resnet_critic_scores_each_image_alone():
    """No BatchNorm (or any other batch-coupling layer) in the critic: in train mode, example i's score is the same
    alone as in a batch, so the gradient penalty's per-example gradients are what they say."""
    critic = build_critic(get_profile(NAME, "full", width=8)).train()
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    assert not any(
        isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm, torch.nn.InstanceNorm2d)) for m in critic.modules()
    )
    x = torch.rand(6, 3, 32, 32, generator=gen(3)) * 2 - 1
    together = critic(x)
    alone = torch.cat([critic(x[i : i + 1]) for i in range(6)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)


def test_reference_gradient_penalty_backpropagates_through_the_resnet_critic():
    """The reference penalty (create_graph=True) reaches every weight of the critic, and it agrees with the
    per-example gradient norms computed one image at a time."""
    torch.manual_seed(0)
    critic = build_critic(get_profile(NAME, "full", width=8))
    real = torch.rand(4, 3, 32, 32, generator=gen(4)) * 2 - 1
    fake = torch.rand(4, 3, 32, 32, generator=gen(5)) * 2 - 1
    alpha = torch.rand(4, 1, 1, 1, generator=gen(6))
    gp = ref.gradient_penalty(critic, real, fake, alpha)
    norms = []
    for i in range(4):
        x = (alpha[i] * real[i] + (1 - alpha[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        norms.append(g.norm())
    torch.testing.assert_close(gp, ((torch.stack(norms) - 1) ** 2).mean(), rtol=1e-5, atol=1e-6)
    critic.zero_grad()
    gp.backward()
    # biases do not move a ReLU net's input gradient (it is piecewise constant in them), weights do
    weights = {n: p.grad for n, p in critic.named_parameters() if p.dim() > 1}
    assert weights and all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in weights.values())
