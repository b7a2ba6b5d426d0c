"""02_vae: the solution's functions against torch.distributions and closed forms; nets, loop, widgets."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import solution_functions
from torch.distributions import Normal, kl_divergence

from course_lib.assignments.vae import widgets as widgets
from course_lib.assignments.vae.train import config_for, load_images, train, validate
from course_lib.nets.conv_vae import VAE, AutoEncoder, build_model
from course_lib.profiles import get_profile

NAME = "02_vae"


@pytest.fixture(scope="module")
def sol():
    return solution_functions(NAME)


def _tiny(kind, seed=0, c=1, size=8, d=3):
    torch.manual_seed(seed)
    return build_model(kind, latent_dim=d, in_channels=c, image_size=size, widths=(2, 3, 4, 5))


# --- student functions -----------------------------------------------------------------------------
def test_kl_matches_torch_distributions(sol):
    torch.manual_seed(0)
    mu, log_std = torch.randn(10, 7, dtype=torch.float64), torch.randn(10, 7, dtype=torch.float64)
    want = kl_divergence(Normal(mu, log_std.exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1)
    got = sol.kl_to_standard_normal(mu, log_std)
    assert got.shape == (10,)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_reparameterize_formula_and_gradients(sol):
    torch.manual_seed(1)
    mu = torch.randn(4, 3, requires_grad=True)
    log_std = torch.randn(4, 3, requires_grad=True)
    eps = torch.randn(4, 3)
    z = sol.reparameterize(mu, log_std, eps)
    # closed form: sigma = exp(log_std)
    torch.testing.assert_close(z, mu + log_std.exp() * eps)
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.ones(4, 3))
    torch.testing.assert_close(log_std.grad, (log_std.exp() * eps).detach())
    # the same draw as torch.distributions' rsample with the same eps (loc + scale * eps)
    torch.manual_seed(5)
    sample = Normal(mu.detach(), log_std.detach().exp()).rsample()
    torch.manual_seed(5)
    torch.testing.assert_close(sol.reparameterize(mu.detach(), log_std.detach(), torch.randn(4, 3)), sample)


def test_ae_loss_reduction(sol):
    model = _tiny("ae", c=3, size=16)
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    loss, parts = sol.ae_loss(model, x)
    want = F.mse_loss(model(x), x, reduction="sum") / 6  # sum over C, H, W and batch, / B
    torch.testing.assert_close(loss, want)
    assert parts["recon_loss"] is loss or torch.equal(parts["recon_loss"], loss)


@pytest.mark.parametrize("beta", [0.0, 0.8, 1.2])
def test_vae_loss_matches_independent_terms(sol, beta):
    model = _tiny("vae", c=3, size=16, d=4)
    x, eps = torch.rand(5, 3, 16, 16) * 2 - 1, torch.randn(5, 4)
    total, parts = sol.vae_loss(model, x, eps, beta=beta)
    mu, log_std = model.encoder(x)
    q = Normal(mu, log_std.exp())
    recon = F.mse_loss(model.decoder(mu + log_std.exp() * eps), x, reduction="sum") / 5
    kl = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1).mean()
    torch.testing.assert_close(parts["recon_loss"], recon)
    torch.testing.assert_close(parts["kl_loss"], kl)
    torch.testing.assert_close(total, recon + beta * kl)


def test_schedules_first_middle_last(sol):
    f = sol.linear_beta_schedule(20, 1.0)
    assert f(0) == 0.0
    assert f(19) == pytest.approx(1.0, abs=1e-12)  # exactly the target at max_epochs - 1
    assert f(9.5) == pytest.approx(0.5)
    g = sol.linear_beta_schedule(5, 1.2)
    assert [g(e) for e in range(5)] == pytest.approx([0.0, 0.3, 0.6, 0.9, 1.2])
    assert all(sol.constant_beta_schedule(0.8)(e) == 0.8 for e in (0, 10, 19))


def test_perturb_latents_against_a_loop_of_copies(sol):
    torch.manual_seed(3)
    z = torch.randn(4, 6, dtype=torch.float64)
    z0 = z.clone()
    dims, eps = [5, 0, 2, 2], 0.7
    got = sol.perturb_latents(z, dims, eps)
    # closed form, one copy per dimension: z with z[:, d] + eps in column d and every other column unchanged
    want = []
    for d in dims:
        row = z0.clone()
        row[:, d] = z0[:, d] + eps
        want.append(row)
    torch.testing.assert_close(got, torch.stack(want), rtol=0, atol=1e-15)
    torch.testing.assert_close(z, z0, rtol=0, atol=0)  # z untouched
    # out - z is eps times the one-hot rows of the identity, whatever z is
    torch.testing.assert_close(got - z0, eps * torch.eye(6, dtype=torch.float64)[dims][:, None].expand(4, 4, 6))
    assert sol.perturb_latents(z.float(), torch.tensor(dims), -1.0).dtype == torch.float32


def test_first_of_each_class_picks_one_index_per_class():
    from course_lib.assignments.vae.train import first_of_each_class
    from course_lib.data import load

    labels = torch.tensor([2, 2, 0, 1, 0, 2, 1])
    assert first_of_each_class(labels).tolist() == [2, 3, 0]
    assert first_of_each_class(labels, 2).tolist() == [2, 3]
    val = load("mnist5k", "val").labels
    picks = first_of_each_class(val, 8)
    assert val[picks].tolist() == list(range(8))  # one image per class, not eight of the first class
    assert all(int((val[:i] == val[i]).sum()) == 0 for i in picks.tolist())  # the first one of its class
    with pytest.raises(ValueError, match=r"\(N,\)"):
        first_of_each_class(labels[None])


def test_show_images_labels_rows_and_columns(tmp_path):
    from course_lib.viz import show_images

    images = torch.zeros(6, 1, 8, 8)
    fig = show_images(images, nrow=3, row_labels=["a", "b"], col_labels=["x", "y", "z"], path=tmp_path / "g.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    # row centres of image_grid (pad 2): 2 + 8 / 2 = 6, then every 10 pixels
    assert list(ax.get_yticks()) == [6.0, 16.0] and (tmp_path / "g.png").exists()
    with pytest.raises(ValueError, match="2 row labels for a grid of 3 rows"):
        show_images(torch.zeros(7, 1, 8, 8), nrow=3, row_labels=["a", "b"])


# The common mistakes and the hidden tests that catch them: autograder/assignments/vae/mistakes.py, tests/test_mistakes.py.


# --- nets ---------------------------------------------------------------------------------------------
def test_encoder_returns_mu_log_std_and_decoder_mirrors():
    model = VAE(in_channels=3, image_size=32, latent_dim=16)
    mu, log_std = model.encoder(torch.zeros(2, 3, 32, 32))
    assert mu.shape == log_std.shape == (2, 16)
    assert model.decoder(mu).shape == (2, 3, 32, 32)
    assert [m.out_channels for m in model.encoder.convs if isinstance(m, torch.nn.Conv2d)] == [32, 64, 128, 256]
    ae = AutoEncoder(in_channels=1, image_size=32, latent_dim=5, widths=(4, 4, 8, 8))
    assert ae.encoder(torch.zeros(3, 1, 32, 32)).shape == (3, 5)


def test_nets_reject_bad_input():
    model = VAE(in_channels=1, image_size=32, latent_dim=4, widths=(2, 2, 2, 2))
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\)"):
        model.encoder(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="multiple of 8"):
        VAE(in_channels=1, image_size=28, latent_dim=4)
    with pytest.raises(ValueError, match="'ae' or 'vae'"):
        build_model("gan", latent_dim=2, in_channels=1, image_size=8, widths=(1, 1, 1, 1))


# --- data, loop, evaluator ----------------------------------------------------------------------------
def test_load_images_pads_with_background():
    raw = __import__("course_lib.data", fromlist=["load"]).load("mnist5k", "val").images
    padded = load_images("mnist5k", "val", image_size=32)
    assert padded.shape == (raw.shape[0], 1, 32, 32)
    torch.testing.assert_close(padded[:, :, 2:30, 2:30], raw)
    assert torch.all(padded[:, :, :2] == -1) and torch.all(padded[:, :, :, 30:] == -1)


def test_training_loop_lowers_the_loss_and_records_history(sol):
    x = load_images("synthetic", "train", image_size=32)[:64]
    torch.manual_seed(0)
    model = build_model("vae", latent_dim=4, in_channels=3, image_size=32, widths=(4, 4, 8, 8))
    config = dataclasses.replace(config_for(get_profile(NAME, "fast")), epochs=3, batch_size=16, lr=3e-3)
    before = validate(model, sol.vae_loss, x, config=config, beta=0.5)
    hist = train(model, sol.vae_loss, x, x, config=config, beta_schedule=sol.linear_beta_schedule(3, 0.5), device="cpu")
    assert hist["beta"] == pytest.approx([0.0, 0.25, 0.5])
    assert len(hist["val_recon"]) == len(hist["val_kl"]) == 3
    assert hist["val_recon"][-1] < before[0]
    with pytest.raises(ValueError, match="beta_schedule"):
        train(model, sol.vae_loss, x, x, config=config, device="cpu")


def test_reference_evaluate_matches_mse():
    from autograder.assignments.vae import reference as ref

    model = _tiny("ae", c=1, size=16)
    x = torch.rand(30, 1, 16, 16) * 2 - 1
    got = ref.evaluate(model, x, get_profile(NAME, "fast", batch_size=7))
    with torch.no_grad():
        want = F.mse_loss(model(x), x, reduction="sum").item() / 30
    assert got["recon"] == pytest.approx(want, rel=1e-5) and got["kl"] == 0.0


def test_profiles_registered_with_anchor_thresholds():
    full = get_profile(NAME, "full")
    assert (full.dataset, full.batch_size, full.epochs, full.latent_sizes) == ("cifar10", 256, 20, (16, 128, 1024))
    assert (
        full.ae_recon_max,
        full.vae_recon_max,
        full.beta08_recon_max,
        full.beta12_recon_max,
        full.linear_recon_max,
    ) == (40, 145, 130, 155, 125)
    with pytest.raises(KeyError):
        get_profile(NAME, "fast", epoch=3)


# --- widgets ------------------------------------------------------------------------------------------
def test_interpolation_endpoints_and_midpoint():
    model = _tiny("vae", c=1, size=8)
    xa, xb = torch.rand(1, 8, 8), torch.rand(1, 8, 8)
    with torch.no_grad():
        za, zb = model.encode(xa[None])[0], model.encode(xb[None])[0]
        torch.testing.assert_close(widgets.interpolation_frame(model, xa, xb, 0.0), model.decoder(za[None])[0])
        torch.testing.assert_close(widgets.interpolation_frame(model, xa, xb, 1.0), model.decoder(zb[None])[0])
        torch.testing.assert_close(
            widgets.interpolation_frame(model, xa, xb, 0.25), model.decoder((0.75 * za + 0.25 * zb)[None])[0]
        )
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        widgets.interpolation_frame(model, xa, xb, 1.5)


def test_traversal_changes_one_dimension_only():
    model = _tiny("vae", c=1, size=8, d=4)
    x = torch.rand(1, 8, 8)
    strip = widgets.traverse(model, x, 2, [-1.0, 0.0, 1.0])
    assert strip.shape == (3, 1, 8, 8)
    with torch.no_grad():
        z = model.encode(x[None])[0].clone()
        z[2] = 1.0
        torch.testing.assert_close(strip[2], model.decoder(z[None])[0])
    with pytest.raises(ValueError, match="dim"):
        widgets.traverse(model, x, 4, [0.0])


def test_factor_correlation_matches_numpy():
    model = _tiny("vae", c=1, size=32, d=3)
    from course_lib.data import load

    data = load("shapes", "val")
    got = widgets.factor_correlation(model, data.images[:200], data.factors[:200])
    with torch.no_grad():
        z = model.encode(data.images[:200]).double().numpy()
    f = data.factors[:200].double().numpy()
    want = np.abs(np.corrcoef(z.T, f.T)[:3, 3:])
    np.testing.assert_allclose(got.numpy(), want, atol=1e-10)
    assert not math.isnan(float(got.sum()))
