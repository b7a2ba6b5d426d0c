"""05_importance_sampling: the solution's functions and the course_lib pieces against independent references
(scipy, torch.distributions, numerical quadrature)."""

from __future__ import annotations

import math

import nbformat
import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import torch
from conftest import REPO, solution_functions
from torch.distributions import Bernoulli, Normal, kl_divergence

from autograder.assignments.importance_sampling import reference as ref
from course_lib.assignments.importance_sampling import widgets as widget
from course_lib.assignments.importance_sampling.train import TrainConfig, evaluate_elbo, train_vae
from course_lib.data import load
from course_lib.nets.mlp_vae import MLPVAE, toy_vae
from course_lib.profiles import get_profile

NAME = "05_importance_sampling"


@pytest.fixture(scope="module")
def sol():
    return solution_functions(NAME)


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- log densities


@pytest.mark.parametrize("shape", [(4, 10), (3, 5, 7)])
def test_bernoulli_matches_scipy(sol, shape):
    g = gen(0)
    logits = 4 * torch.randn(*shape, generator=g, dtype=torch.float64)
    target = torch.bernoulli(torch.full(shape, 0.5, dtype=torch.float64), generator=g)
    expected = scipy.stats.bernoulli.logpmf(target.numpy(), scipy.special.expit(logits.numpy())).sum(-1)
    np.testing.assert_allclose(sol.log_likelihood_bernoulli(logits, target).numpy(), expected, rtol=1e-10)


def test_bernoulli_broadcasts_target_over_k(sol):
    g = gen(1)
    logits, target = torch.randn(2, 6, 9, generator=g), torch.bernoulli(torch.full((2, 1, 9), 0.5), generator=g)
    out = sol.log_likelihood_bernoulli(logits, target)
    assert out.shape == (2, 6)
    torch.testing.assert_close(out, Bernoulli(logits=logits).log_prob(target.expand(-1, 6, -1)).sum(-1))


def test_bernoulli_stable_where_naive_formula_fails(sol):
    logits = torch.tensor([[100.0, -100.0, 1e4, -1e4]])
    target = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    p = torch.sigmoid(logits)
    naive = (target * torch.log(p) + (1 - target) * torch.log(1 - p)).sum(-1)
    assert not torch.isfinite(naive).all()  # the naive formula really breaks here
    out = sol.log_likelihood_bernoulli(logits, target)
    torch.testing.assert_close(out, torch.tensor([-200.0]))


@pytest.mark.parametrize("k", [None, 5])
def test_normal_matches_scipy(sol, k):
    g = gen(2)
    shape = (4, 3) if k is None else (4, k, 3)
    mu, logvar = (
        torch.randn(4, 1, 3, generator=g, dtype=torch.float64),
        torch.randn(4, 1, 3, generator=g, dtype=torch.float64),
    )
    if k is None:
        mu, logvar = mu[:, 0], logvar[:, 0]
    z = 2 * torch.randn(*shape, generator=g, dtype=torch.float64)
    expected = scipy.stats.norm.logpdf(z.numpy(), mu.numpy(), np.exp(0.5 * logvar.numpy())).sum(-1)
    out = sol.log_likelihood_normal(mu, logvar, z)
    assert out.shape == shape[:-1]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)


# ---------------------------------------------------------------- log-mean-exp


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_log_mean_exp_matches_scipy(sol, dim):
    y = 10 * torch.randn(3, 4, 5, generator=gen(3), dtype=torch.float64)
    expected = scipy.special.logsumexp(y.numpy(), axis=dim) - math.log(y.shape[dim])
    np.testing.assert_allclose(sol.log_mean_exp(y, dim).numpy(), expected, rtol=1e-10)


def test_log_mean_exp_stable_where_naive_formula_fails(sol):
    y = torch.tensor([[1000.0, 999.0], [-1000.0, -1001.0]])
    assert not torch.isfinite(torch.log(torch.exp(y).mean(1))).all()
    expected = scipy.special.logsumexp(y.double().numpy(), axis=1) - math.log(2)
    np.testing.assert_allclose(sol.log_mean_exp(y, 1).numpy(), expected, rtol=1e-6)


# ---------------------------------------------------------------- KL


def test_kl_analytic_matches_torch_distributions(sol):
    g = gen(4)
    mu_q, logvar_q, mu_p, logvar_p = (torch.randn(6, 5, generator=g, dtype=torch.float64) for _ in range(4))
    expected = kl_divergence(Normal(mu_q, torch.exp(0.5 * logvar_q)), Normal(mu_p, torch.exp(0.5 * logvar_p))).sum(-1)
    torch.testing.assert_close(sol.kl_gaussian_gaussian_analytic(mu_q, logvar_q, mu_p, logvar_p), expected)


def test_kl_mc_converges_to_analytic(sol):
    g = gen(5)
    mu_q, logvar_q, mu_p, logvar_p = (torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(4))
    exact = kl_divergence(Normal(mu_q, torch.exp(0.5 * logvar_q)), Normal(mu_p, torch.exp(0.5 * logvar_p))).sum(-1)
    errors = []
    for k in (10, 1000, 100_000):
        est = sol.kl_gaussian_gaussian_mc(
            mu_q, logvar_q, mu_p, logvar_p, torch.randn(4, k, 3, generator=g, dtype=torch.float64)
        )
        assert est.shape == (4,)
        errors.append((est - exact).abs().mean().item())
    assert errors[2] < 0.05 and errors[2] < errors[0] / 5, errors


# ---------------------------------------------------------------- ELBO and importance sampling


def test_elbo_and_is_match_reference_on_images(sol):
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=8, hidden=32)
    g = gen(6)
    x = torch.bernoulli(torch.full((5, 1, 28, 28), 0.2), generator=g)
    eps = torch.randn(5, 8, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(sol.elbo(model, x, eps), ref.elbo(model, x, eps), rtol=1e-5, atol=1e-4)
        eps_k = torch.randn(5, 11, 8, generator=g)
        torch.testing.assert_close(
            sol.importance_sampling_log_px(model, x, eps_k),
            ref.importance_sampling_log_px(model, x, eps_k),
            rtol=1e-5,
            atol=1e-4,
        )


def test_reference_quadrature_matches_scipy_quad():
    """The reference's grid quadrature against scipy's adaptive quadrature, in 1-D."""
    model = toy_vae(in_features=8, latent_dim=1, seed=3)
    x = torch.bernoulli(torch.full((2, 8), 0.5), generator=gen(7))
    grid_value = ref.quadrature_log_px(model, x)
    for i in range(2):

        def joint(z, row=x[i]):
            with torch.no_grad():
                logit = model.decode(torch.tensor([[z]], dtype=torch.float32))[0].double()
            return math.exp(Bernoulli(logits=logit).log_prob(row.double()).sum().item()) * scipy.stats.norm.pdf(z)

        value, _ = scipy.integrate.quad(joint, -10, 10, limit=200)
        assert abs(grid_value[i].item() - math.log(value)) < 1e-3


@pytest.mark.parametrize("latent_dim", [1, 2])
def test_is_converges_to_quadrature_and_sits_above_elbo(sol, latent_dim):
    model = toy_vae(in_features=10, latent_dim=latent_dim, seed=latent_dim)
    g = gen(8)
    x = torch.bernoulli(torch.full((3, 10), 0.5), generator=g)
    with torch.no_grad():
        exact = ref.quadrature_log_px(model, x)
        est = sol.importance_sampling_log_px(model, x, torch.randn(3, 50_000, latent_dim, generator=g))
        torch.testing.assert_close(est, exact, atol=0.03, rtol=0)
        elbo = torch.stack([sol.elbo(model, x, torch.randn(3, latent_dim, generator=g)) for _ in range(500)]).mean(0)
        is5 = torch.stack(
            [sol.importance_sampling_log_px(model, x, torch.randn(3, 5, latent_dim, generator=g)) for _ in range(500)]
        ).mean(0)
    # the toy decoder is sharp enough that the gaps are real, not rounding
    assert (exact - elbo).mean() > 0.1 and (elbo < exact + 0.01).all(), (exact, elbo)
    assert (is5 - elbo).mean() > 0.05 and (is5 > elbo - 0.01).all() and (is5 < exact + 0.01).all(), (elbo, is5, exact)


def test_is_with_one_sample_is_the_mc_elbo(sol):
    torch.manual_seed(1)
    model = MLPVAE(latent_dim=4, hidden=16)
    g = gen(9)
    x = torch.bernoulli(torch.full((3, 1, 28, 28), 0.3), generator=g)
    eps = torch.randn(3, 1, 4, generator=g)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps[:, 0]
        mc_elbo = (
            Bernoulli(logits=model.decode(z)).log_prob(x.view(3, -1)).sum(-1)
            + Normal(0.0, 1.0).log_prob(z).sum(-1)
            - Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
        )
        torch.testing.assert_close(sol.importance_sampling_log_px(model, x, eps), mc_elbo, rtol=1e-5, atol=1e-4)


# ---------------------------------------------------------------- course_lib pieces


def test_mlp_vae_shapes_and_errors():
    model = MLPVAE(latent_dim=100, hidden=300)
    n_params = sum(p.numel() for p in model.parameters())
    # 784-300-300-200 encoder and 100-300-300-784 decoder, with biases
    assert n_params == (784 * 300 + 300 + 300 * 300 + 300 + 300 * 200 + 200) + (
        100 * 300 + 300 + 300 * 300 + 300 + 300 * 784 + 784
    )
    mu, logvar = model.encode(torch.zeros(3, 1, 28, 28))
    assert mu.shape == logvar.shape == (3, 100)
    assert model.decode(torch.zeros(3, 7, 100)).shape == (3, 7, 784)
    with pytest.raises(ValueError, match="encode expects"):
        model.encode(torch.zeros(3, 1, 32, 32))
    with pytest.raises(ValueError, match="last dimension 100"):
        model.decode(torch.zeros(3, 10))
    with pytest.raises(ValueError, match="positive int"):
        MLPVAE(latent_dim=0)
    with pytest.raises(ValueError, match="quadrature"):
        toy_vae(latent_dim=3)


def test_toy_vae_leaves_global_rng_alone():
    torch.manual_seed(123)
    a = torch.rand(1)
    torch.manual_seed(123)
    toy_vae(seed=5)
    assert torch.equal(torch.rand(1), a)


def test_profiles():
    fast, full = get_profile(NAME, "fast"), get_profile(NAME, "full")
    assert (full.dataset, full.latent_dim, full.lr, full.batch_size, full.epochs, full.eval_k, full.min_elbo) == (
        "binarized_mnist",
        100,
        3e-4,
        64,
        20,
        200,
        -102.0,
    )
    assert fast.dataset == "binarized_mnist5k" and fast.min_log_px >= fast.min_elbo
    with pytest.raises(KeyError, match="no setting"):
        get_profile(NAME, "fast", epoch=3)
    with pytest.raises(ValueError, match="min_log_px"):
        get_profile(NAME, "fast", min_log_px=fast.min_elbo - 1)


@pytest.mark.slow
def test_train_vae_improves_the_elbo(sol):
    data = load("binarized_mnist5k", "val")
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=10, hidden=64)
    before = evaluate_elbo(model, sol.elbo, data, generator=gen(0))
    hist = train_vae(model, sol.elbo, data, config=TrainConfig(epochs=2, batch_size=100, lr=1e-3, seed=0), val=data)
    assert len(hist["train_elbo"]) == len(hist["val_elbo"]) == 2
    assert hist["val_elbo"][-1] > before + 50, (before, hist)


def test_train_vae_rejects_wrong_shape():
    data = load("binarized_mnist5k", "val")
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        train_vae(
            MLPVAE(latent_dim=4, hidden=8),
            lambda m, x, eps: eps,
            data,
            config=TrainConfig(epochs=1, batch_size=500, lr=3e-4, seed=0),
        )
    with pytest.raises(ValueError):
        TrainConfig(epochs=0, batch_size=64, lr=3e-4, seed=0)


def test_widget_core(sol):
    model = toy_vae(in_features=10, latent_dim=1, seed=4)
    x = torch.bernoulli(torch.full((3, 10), 0.5), generator=gen(10))
    curve = widget.log_px_curve(sol.importance_sampling_log_px, model, x, ks=(1, 10, 1000), repeats=8)
    assert sorted(curve) == [1, 10, 1000] and all(v.shape == (8,) for v in curve.values())
    exact = ref.quadrature_log_px(model, x).mean().item()
    # the estimate rises towards log p(x) and its spread shrinks
    assert curve[1].mean() < curve[1000].mean() <= exact + 0.02
    assert abs(curve[1000].mean() - exact) < 0.05
    assert curve[1000].std() < curve[1].std()
    # chunking (fewer digits per call) does not change the estimate's distribution much
    fig = widget.k_frame(curve, 10, elbo=curve[1].mean())
    assert "K = 10" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="not computed"):
        widget.k_frame(curve, 5)
    with pytest.raises(ValueError, match="positive int"):
        widget.estimates_at_k(sol.importance_sampling_log_px, model, x, 0)
    assert widget.k_slider(curve, elbo=-5.0, k=10) is None  # static frame without a front end


def test_estimates_chunking_averages_over_all_digits(sol):
    """Digits split into chunks (to bound memory) are averaged with the right weights."""
    model = toy_vae(in_features=10, latent_dim=2, seed=1)
    x = torch.bernoulli(torch.full((7, 10), 0.5), generator=gen(11))
    got = widget.estimates_at_k(sol.importance_sampling_log_px, model, x, 4, repeats=1, generator=gen(1), chunk=8)
    g = gen(1)  # replay the noise: chunks of 8 // 4 = 2 digits
    with torch.no_grad():
        parts = [
            ref.importance_sampling_log_px(model, x[i : i + 2], torch.randn(len(x[i : i + 2]), 4, 2, generator=g))
            for i in range(0, 7, 2)
        ]
    assert got.shape == (1,)
    assert abs(got.item() - torch.cat(parts).double().mean().item()) < 1e-5


# ---------------------------------------------------------------- grading pieces


def test_hard_coded_answer_passes_visible_but_fails_hidden():
    """log_mean_exp that returns the visible test's answer passes the release's cell and fails the source's."""

    def cell(path, gid):
        nb = nbformat.read(path, as_version=4)
        return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)

    visible = cell(REPO / "notebooks" / NAME / f"{NAME}.ipynb", "test_log_mean_exp")
    full = cell(REPO / "solutions" / NAME / f"{NAME}.ipynb", "test_log_mean_exp")
    ns = {
        "torch": torch,
        "math": math,
        "np": np,
        "scipy": scipy,
        "log_mean_exp": lambda y, dim: torch.tensor([math.log(2.0)]),
    }
    exec(visible, dict(ns))
    with pytest.raises(AssertionError):
        exec(full, dict(ns))


def test_evaluate_checkpoint_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(AssertionError, match="run the training cell"):
        ref.evaluate_checkpoint(tmp_path / "checkpoints" / "vae.pt", get_profile(NAME, "fast"))


@pytest.mark.slow
def test_threshold_checks_reject_an_untrained_model(tmp_path, monkeypatch):
    from course_lib.checkpoints import save_checkpoint

    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "vae.pt", {"model": MLPVAE().state_dict()}, meta={"profile": "fast"})
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    res = ref.evaluate_checkpoint(path, get_profile(NAME, "fast"))
    assert res["log_px"] > res["elbo"]  # even an untrained model: the estimate sits above the bound
    with pytest.raises(AssertionError, match="below the threshold"):
        ref.check_elbo_threshold(path)
    with pytest.raises(AssertionError, match="below the threshold"):
        ref.check_log_px_threshold(path)


def test_evaluate_model_measures_the_gap_on_the_same_digits():
    """When the ELBO and log p(x) splits differ (as in the full profile), the gap uses the ELBO of the IS digits."""
    cfg = get_profile(NAME, "fast", elbo_split="train", is_split="val", eval_size=40, eval_k=20)
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=5, hidden=16)
    res = ref.evaluate_model(model, cfg)
    assert set(res) == {"elbo", "log_px", "elbo_is_split", "gap"}
    assert res["gap"] == pytest.approx(res["log_px"] - res["elbo_is_split"])
    assert res["gap"] > 0
    x = load("binarized_mnist5k", "val").images[:40]
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # an independent evaluation of the same quantities, with other noise
        elbo_val = torch.stack([ref.elbo(model, x, torch.randn(40, 5, generator=g)) for _ in range(50)]).mean()
        log_px = ref.importance_sampling_log_px(model, x, torch.randn(40, 2000, 5, generator=g)).mean()
    assert abs(res["elbo_is_split"] - elbo_val.item()) < 2.0
    assert abs(res["log_px"] - log_px.item()) < 1.0
