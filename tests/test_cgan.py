"""07_cgan: the solution's functions and course_lib's pieces against independent references (numpy's identity
matrix, explicit per-example sums, scipy's log_expit, torch's BCE, closed forms of a linear critic, autograd on the
loop, the shipped digit classifier on real digits)."""

from __future__ import annotations

import dataclasses
import math

import matplotlib.figure
import numpy as np
import pytest
import torch
from conftest import solution_functions
from scipy.special import log_expit
from torch import nn

from autograder.assignments.cgan import reference as ref
from course_lib.assignments.cgan.train import (
    class_accuracy,
    class_grid_inputs,
    config_for,
    discriminate,
    generate,
    intra_fid,
    sample_classes,
    train_cgan,
)
from course_lib.assignments.cgan.widgets import class_frame, class_sweep
from course_lib.checkpoints import save_checkpoint
from course_lib.data import load
from course_lib.nets.cgan import ConditionalGenerator, build_cgan
from course_lib.profiles import get_profile

NAME = "07_cgan"


@pytest.fixture(scope="module")
def sol():
    return solution_functions(NAME)


@pytest.fixture(scope="module")
def tiny():
    """The fast profile with small nets and a few steps (seconds on one thread)."""
    return dataclasses.replace(get_profile(NAME, "fast"), width=16, iterations=6, batch_size=16, samples_per_class=3)


@pytest.mark.parametrize("impl", ["sol", "ref"])
def test_generator_input_is_z_then_a_row_of_the_identity(sol, impl):
    fn = sol.generator_input if impl == "sol" else ref.generator_input
    g = torch.Generator().manual_seed(0)
    z, labels = torch.randn(12, 5, generator=g), torch.randint(0, 10, (12,), generator=g)
    out = fn(z, labels, 10)
    expected = np.concatenate([z.numpy(), np.eye(10)[labels.numpy()]], axis=1)
    assert out.shape == (12, 15) and out.dtype == z.dtype
    np.testing.assert_allclose(out.numpy(), expected, atol=0)


@pytest.mark.parametrize("impl", ["sol", "ref"])
def test_projection_equals_the_per_example_sum_and_the_linear_critic(sol, impl):
    fn = sol.projection_logits if impl == "sol" else ref.projection_logits
    torch.manual_seed(0)
    emb, psi = nn.Embedding(10, 7), nn.Linear(7, 1)
    g = torch.Generator().manual_seed(1)
    phi, labels = torch.randn(9, 7, generator=g), torch.randint(0, 10, (9,), generator=g)
    out = fn(phi, labels, emb, psi)
    V, w, c = emb.weight.detach().numpy(), psi.weight.detach().numpy()[0], psi.bias.item()
    loop = [float(phi[b].numpy() @ w + c + V[labels[b]] @ phi[b].numpy()) for b in range(9)]
    assert out.shape == (9,)
    np.testing.assert_allclose(out.detach().numpy(), loop, rtol=1e-5, atol=1e-5)
    # a linear critic on flattened images (phi = identity): D(x, y) = w.x + c + v_y.x, a closed form in x
    x = torch.randn(4, 7, generator=g)
    for y in range(3):
        closed = x @ (psi.weight[0] + emb.weight[y]) + psi.bias
        assert torch.allclose(fn(x, torch.full((4,), y), emb, psi), closed, atol=1e-5)


@pytest.mark.parametrize("impl", ["sol", "ref"])
def test_losses_equal_scipy_and_torch_bce(sol, impl):
    d_fn = sol.d_loss_conditional if impl == "sol" else ref.d_loss_conditional
    g_fn = sol.g_loss_conditional if impl == "sol" else ref.g_loss_conditional
    g = torch.Generator().manual_seed(2)
    real, fake = 8 * torch.randn(20, generator=g, dtype=torch.float64), 8 * torch.randn(30, generator=g).double()
    d_expected = -log_expit(real.numpy()).mean() - log_expit(-fake.numpy()).mean()
    g_expected = -log_expit(fake.numpy()).mean()
    assert math.isclose(float(d_fn(real, fake)), d_expected, rel_tol=1e-9)
    assert math.isclose(float(g_fn(fake)), g_expected, rel_tol=1e-9)
    bce = nn.functional.binary_cross_entropy_with_logits
    assert math.isclose(
        float(d_fn(real, fake)),
        float(bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))),
        rel_tol=1e-9,
    )


def test_nets_see_the_class_and_have_the_documented_shapes(sol):
    for profile, size, channels in (("fast", 28, 1), ("full", 32, 3)):
        cfg = dataclasses.replace(get_profile(NAME, profile), width=8)
        torch.manual_seed(0)
        gan = build_cgan(cfg).eval()
        z = torch.randn(3, cfg.latent_dim)
        with torch.no_grad():
            a = generate(gan.generator, z, torch.tensor([0, 1, 2]), sol.generator_input)
            b = generate(gan.generator, z, torch.tensor([3, 4, 5]), sol.generator_input)
            assert a.shape == (3, channels, size, size) and a.abs().max() <= 1
            assert not torch.allclose(a, b)
            la = discriminate(gan.discriminator, a, torch.tensor([0, 1, 2]), sol.projection_logits)
            lb = discriminate(gan.discriminator, a, torch.tensor([3, 4, 5]), sol.projection_logits)
            assert la.shape == (3,) and not torch.allclose(la, lb)
    with pytest.raises(ValueError, match="one-hot"):
        gan.generator(torch.zeros(2, 5))  # the hard-coded example's (2, 5) input


def test_discriminator_step_never_reaches_the_generator_and_the_generator_step_does(sol, tiny):
    """Gradient routing of the loop: the D loss has no gradient path to G's parameters (the fakes are detached);
    the G loss reaches every parameter of G."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    gan = build_cgan(tiny)
    G = list(gan.generator.parameters())
    seen = {"d": 0, "g": 0}

    def d_loss(d_real, d_fake):
        loss = sol.d_loss_conditional(d_real, d_fake)
        assert all(g is None for g in torch.autograd.grad(loss, G, retain_graph=True, allow_unused=True))
        seen["d"] += 1
        return loss

    def g_loss(d_fake):
        loss = sol.g_loss_conditional(d_fake)
        grads = torch.autograd.grad(loss, G, retain_graph=True, allow_unused=True)
        assert all(g is not None for g in grads)
        seen["g"] += 1
        return loss

    data = load(tiny.dataset, tiny.train_split)
    before = [p.detach().clone() for p in G]
    hist = train_cgan(
        gan,
        generator_input_fn=sol.generator_input,
        projection_fn=sol.projection_logits,
        d_loss_fn=d_loss,
        g_loss_fn=g_loss,
        data=data,
        config=config_for(tiny),
        device="cpu",
    )
    assert seen == {"d": 6, "g": 6} and set(hist) == {"iteration", "d_loss", "g_loss"}
    assert all(math.isfinite(v) for v in hist["d_loss"] + hist["g_loss"])
    assert any(not torch.equal(a, p) for a, p in zip(before, G, strict=True))


class _Prototypes(nn.Module):
    """A 'generator' that returns a fixed real digit of the class its one-hot asks for (shifted by ``shift``)."""

    def __init__(self, images: torch.Tensor, shift: int = 0) -> None:
        super().__init__()
        self.register_buffer("images", images)  # (K, 1, 28, 28)
        self.shift = shift
        self.unused = nn.Parameter(torch.zeros(1))  # the harness reads the device from a parameter

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        labels = h[:, -10:].argmax(1)  # (B,)
        return self.images[(labels + self.shift) % 10]


def test_class_accuracy_of_real_digits_is_one_and_of_the_wrong_class_zero(sol):
    """The harness compares the classifier's label with the asked class: real held-out digits (the first of each
    class the classifier gets right) score 1, the same digits handed out for the next class score 0."""
    from course_lib.assignments.cgan.train import _digit_classifier

    cfg = dataclasses.replace(get_profile(NAME, "fast"), samples_per_class=4)
    val = load(cfg.dataset, "val")
    with torch.no_grad():
        predicted = _digit_classifier("cpu")(val.images).argmax(1)
    first = [int(np.flatnonzero((val.labels == k).numpy() & (predicted == k).numpy())[0]) for k in range(10)]
    for shift, expected in ((0, 1.0), (1, 0.0)):
        net = ConditionalGenerator(_Prototypes(val.images[first], shift), latent_dim=cfg.latent_dim, n_classes=10)
        assert class_accuracy(net, cfg, sol.generator_input, device="cpu") == expected


class _RealDigits(nn.Module):
    """A 'generator' that returns, for the j-th sample of class k, the j-th given digit of class k + shift."""

    def __init__(self, per_class: torch.Tensor, shift: int = 0) -> None:
        super().__init__()
        self.register_buffer("per_class", per_class)  # (K, n, 1, 28, 28)
        self.shift, self.n = shift, per_class.shape[1]
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        labels = (h[:, -10:].argmax(1) + self.shift) % 10  # (B,), class-major: row r is sample r % n of its class
        return self.per_class[labels, torch.arange(h.shape[0]) % self.n]


def _scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """Heusel et al. (2017), eq. 6, with scipy's matrix square root (pytorch-fid's formula)."""
    from scipy import linalg

    mu1, mu2, s1, s2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_intra_fid_is_the_mean_of_each_class_fid_against_that_class_and_catches_wrong_classes(sol):
    """Training digits handed out as the samples of their own class: each class's FID equals scipy's FID between
    those digits' features and the validation digits of that class; handed out for the next class, every class is
    compared with another digit's images and the intra-FID grows several times."""
    from course_lib.metrics.fid import get_extractor

    cfg = dataclasses.replace(get_profile(NAME, "fast"), samples_per_class=30)
    train, val = load(cfg.dataset, "train"), load(cfg.dataset, cfg.fid_split)
    chosen = torch.stack([train.images[train.labels == k][:30] for k in range(10)])  # (K, 30, 1, 28, 28)
    extractor = get_extractor("digits", device="cpu")
    with torch.no_grad():
        feats = lambda x: extractor(x).double().numpy()  # noqa: E731
        expected = [_scipy_fid(feats(chosen[k]), feats(val.images[val.labels == k])) for k in range(10)]
    scores = {}
    for shift in (0, 1):
        net = ConditionalGenerator(_RealDigits(chosen, shift), latent_dim=cfg.latent_dim, n_classes=10)
        scores[shift] = intra_fid(net, cfg, sol.generator_input, device="cpu")
    np.testing.assert_allclose(scores[0]["per_class"], expected, rtol=1e-4)
    assert math.isclose(scores[0]["intra_fid"], float(np.mean(expected)), rel_tol=1e-4)
    assert scores[1]["intra_fid"] > 3 * scores[0]["intra_fid"], scores
    with pytest.raises(ValueError, match="samples_per_class >= 2"):
        intra_fid(net, dataclasses.replace(cfg, samples_per_class=1), sol.generator_input, device="cpu")


def test_sampling_uses_the_same_z_for_every_class_and_the_widget_core(sol, tiny):
    z, labels = class_grid_inputs(10, 3, tiny.latent_dim, seed=5)
    assert torch.equal(z[:3], z[3:6]) and labels.tolist()[:6] == [0, 0, 0, 1, 1, 1]
    torch.manual_seed(0)
    gan = build_cgan(tiny).eval()
    images, labels = sample_classes(gan.generator, sol.generator_input, 3, seed=5, device="cpu")
    assert images.shape == (30, 1, 28, 28) and labels.shape == (30,)
    frames = class_sweep(gan.generator, sol.generator_input, z[:3])
    assert frames.shape == (10, 3, 1, 28, 28)
    assert torch.allclose(frames.reshape(30, 1, 28, 28), images, atol=1e-6)
    assert isinstance(class_frame(frames, 4), matplotlib.figure.Figure)
    with pytest.raises(ValueError, match="label must be in"):
        class_frame(frames, 10)


def test_the_visible_and_the_graded_measurement_agree_and_the_full_profile_grades_nothing(sol, tiny, tmp_path, capsys):
    torch.manual_seed(0)
    gan = build_cgan(tiny)
    save_checkpoint(tmp_path / "cgan.pt", {"model": gan.state_dict()}, meta={"profile": "fast"})
    mine = class_accuracy(gan.generator.eval(), tiny, sol.generator_input, device="cpu")
    assert mine == ref.evaluate_checkpoint(tmp_path / "cgan.pt", tiny)["class_accuracy"]
    full = get_profile(NAME, "full")
    assert full.classifier == "none" and full.min_class_accuracy_cgan == -math.inf
    assert math.isnan(class_accuracy(gan.generator, full, sol.generator_input, device="cpu"))


def test_profile_checks_its_fields():
    with pytest.raises(ValueError, match="arch must be"):
        get_profile(NAME, "fast", arch="resnet")
    with pytest.raises(ValueError, match="classifier must be"):
        get_profile(NAME, "fast", classifier="inception")


def test_intra_fid_says_which_classes_lack_held_out_images(monkeypatch):
    """A held-out split with fewer than 2 images of a class cannot give that class a covariance: the message lists the
    per-class counts."""
    import course_lib.data
    from course_lib.assignments.cgan import train
    from course_lib.data import Dataset

    labels = torch.tensor([0] + [k for k in range(1, 10) for _ in range(3)])  # one image of class 0
    fake = Dataset(images=torch.zeros(len(labels), 1, 28, 28), labels=labels, name="few", split="val")
    monkeypatch.setattr(course_lib.data, "load", lambda name, split, **kw: fake)
    with pytest.raises(ValueError, match=r"at least 2 images of each of the 10 classes in few/val, found \[1, 3, 3"):
        train._class_statistics("few", "val", "digits", 10, "cpu")
