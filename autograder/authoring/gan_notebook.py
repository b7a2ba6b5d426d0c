"""Writes solutions/01_gan/01_gan.ipynb (the nbgrader SOURCE notebook).

The .ipynb is the source of truth that `make release` turns into the student notebook; this script
is how it was written (edit either, then re-run `python -m autograder release 01_gan`).

    PYTHONPATH=$PWD python autograder/authoring/gan_notebook.py
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.authoring import cells
from autograder.authoring.cells import answer, code, graded, md

NAME = "01_gan"
OUT = Path(__file__).resolve().parents[2] / "solutions" / NAME / f"{NAME}.ipynb"



CELLS = [
md(r"""
# 01 GANs: three losses, FID, and walks in latent space

A generative adversarial network (Goodfellow et al., 2014) trains a generator $G$ that maps noise
$z\sim\mathcal N(0, I)$ to images against a discriminator (or *critic*) $D$ that scores images. The choice of the
loss decides what $D$ measures and whether $G$ gets a useful gradient. In this assignment (after CMU 16-824's GAN
homework, q1_3 to q1_5, and CS231n's GAN notebook) you will

1. write the **non-saturating** GAN losses from logits, stably, and see why the original minimax loss saturates;
2. write the **least-squares** (LSGAN) losses;
3. write the **Wasserstein** critic and generator losses and the **gradient penalty** of WGAN-GP;
4. train one architecture with each loss and compare them with the **Frechet Inception Distance** (FID);
5. walk through the generator's latent space, and compare that with cross-fading pixels.

**Conventions.** Every loss returns a **scalar** (a 0-d tensor): a mean over the batch. Scores come in as `(B, 1)`
or `(B,)` tensors; they are logits for the non-saturating loss and raw real numbers for LSGAN and WGAN. All
randomness (`z`, the interpolation weights `alpha`) is passed in; your functions never draw random numbers. Images are
in $[-1, 1]$.

The profile (`COURSE_PROFILE`) decides the data and the budget: `full` is the homework's setting (CUB-200-2011 birds
at 32x32, DCGAN-style nets, 30,000 iterations on a GPU, FID with Inception features), `fast` trains small MLPs on
4,000 MNIST digits in about two CPU minutes and measures FID with the features of a small digit classifier.
"""),
code(r"""
%matplotlib inline
import math
import os

import matplotlib.pyplot as plt
import numpy as np
import scipy.special
import torch
import torch.nn.functional as F

from course_lib.checkpoints import load_or_train
from course_lib.data import load
from course_lib.device import get_device, seed_everything
from course_lib.metrics.fid import fid_score, get_extractor, reference_statistics
from course_lib.nets.gan import build_gan
from course_lib.profiles import active_profile_name, get_profile
from course_lib.train.gan import config_for, sample, train_gan
from course_lib.viz import show_images
from course_lib.widgets.gan import compare_slider, decode_path, latent_grid, pixel_path, walk_slider

PROFILE = active_profile_name()
cfg = get_profile("01_gan")
device = get_device()
print(f"profile {PROFILE!r} on {device}: {cfg}")
"""),
md(r"""
## 1. The original minimax loss saturates

The discriminator outputs a logit $\ell = D(x)$; its probability that $x$ is real is $\sigma(\ell)$. Goodfellow et
al. write the game as

$$\min_G \max_D \; \mathbb E_{x}[\log \sigma(D(x))] + \mathbb E_{z}[\log(1 - \sigma(D(G(z))))].$$

$D$ maximises it, i.e. minimises the binary cross-entropy with label 1 for real images and 0 for fakes. The
*minimax* generator minimises $\log(1-\sigma(\ell))$ of its fakes. Early in training the fakes are bad, $D$ rejects
them confidently, $\ell \ll 0$, and

$$\frac{\partial}{\partial \ell}\log(1-\sigma(\ell)) = -\sigma(\ell) \approx 0 :$$

the generator's gradient **vanishes** exactly when it is worst. The **non-saturating** generator instead minimises
$-\log\sigma(\ell)$ (BCE of its fakes with label 1), whose gradient $-(1-\sigma(\ell)) \approx -1$ is largest
there. Same fixed point, very different dynamics. The cell below plots both gradients.
"""),
code(r"""
logit = torch.linspace(-10, 6, 200, requires_grad=True)
saturating, = torch.autograd.grad(F.logsigmoid(-logit).sum(), logit)  # d/dl log(1 - sigmoid(l))
nonsaturating, = torch.autograd.grad(-F.logsigmoid(logit).sum(), logit)  # d/dl -log sigmoid(l)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(logit.detach(), saturating.abs(), label=r"minimax: $|\partial_\ell \log(1-\sigma(\ell))|$")
ax.plot(logit.detach(), nonsaturating.abs(), label=r"non-saturating: $|\partial_\ell\, {-\log\sigma(\ell)}|$")
ax.axvspan(-10, -3, color="grey", alpha=0.15, label="D confidently rejects the fake")
ax.set_xlabel(r"discriminator logit $\ell$ of a fake"); ax.set_ylabel("gradient magnitude"); ax.legend(fontsize=8)
os.makedirs("figures", exist_ok=True)
fig.savefig("figures/saturation.png", dpi=100, bbox_inches="tight")
plt.show()
"""),
md(r"""
**Compute from logits.** `torch.log(torch.sigmoid(l))` is `-inf` for $\ell=-200$ in float32 (and
`F.binary_cross_entropy` on probabilities clamps the log at $-100$, which is wrong too). Use
$-\log\sigma(\ell) = \operatorname{softplus}(-\ell)$, i.e. `F.binary_cross_entropy_with_logits` or `F.logsigmoid`,
which are exact for any $\ell$.
"""),
answer("d_loss_nonsaturating", r'''
def d_loss_nonsaturating(real_logits, fake_logits):
    """Discriminator loss: mean BCE(real, label 1) + mean BCE(fake, label 0), from logits.

    Args:
        real_logits: (B, 1) or (B,) logits D(x) of real images.
        fake_logits: (B, 1) or (B,) logits D(G(z)) of generated images.

    Returns:
        A scalar, finite for logits of any size (e.g. +-100).
    """
    ### BEGIN SOLUTION
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake
    ### END SOLUTION
'''),
graded("test_d_loss_nonsaturating", r'''
real = torch.tensor([[2.0], [-0.5], [0.3]])
fake = torch.tensor([[-1.0], [0.7], [-3.0]])
out = d_loss_nonsaturating(real, fake)
assert out.dim() == 0, f"the loss must be a scalar, got shape {tuple(out.shape)}"
p_real, p_fake = torch.sigmoid(real), torch.sigmoid(fake)
expected = (F.binary_cross_entropy(p_real, torch.ones_like(p_real)) + F.binary_cross_entropy(p_fake, torch.zeros_like(p_fake)))
assert torch.allclose(out, expected, atol=1e-5), (out, expected)
### BEGIN HIDDEN TESTS
g = torch.Generator().manual_seed(0)
real, fake = 2 * torch.randn(7, 1, generator=g), 2 * torch.randn(5, 1, generator=g)
r, f = real.double().numpy(), fake.double().numpy()
# closed form: -log sigmoid(r) = log(1 + e^{-r}); -log(1 - sigmoid(f)) = log(1 + e^{f})
expected = np.logaddexp(0, -r).mean() + np.logaddexp(0, f).mean()
assert abs(d_loss_nonsaturating(real, fake).item() - expected) < 1e-5, \
    "mean over each batch separately, real labelled 1 and fake labelled 0 (the batches may differ in size)"
### END HIDDEN TESTS
''', 1),
graded("test_d_loss_nonsaturating_stable", r'''
real = torch.tensor([[100.0], [-100.0]])
fake = torch.tensor([[-100.0], [100.0]])
out = d_loss_nonsaturating(real, fake)
assert torch.isfinite(out), f"not finite for logits of +-100: {out} (compute from logits, not from sigmoid)"
assert torch.allclose(out, torch.tensor(100.0), atol=1e-3), out  # (0 + 100) / 2 + (0 + 100) / 2
### BEGIN HIDDEN TESTS
out = d_loss_nonsaturating(torch.tensor([[-1000.0], [30.0]]), torch.tensor([[1000.0], [-30.0]]))
expected = (1000 + np.logaddexp(0, -30.0)) / 2 + (1000 + np.logaddexp(0, -30.0)) / 2
assert torch.isfinite(out) and abs(out.item() - expected) < 1e-2, \
    f"{out} for logits of +-1000 (expected {expected:.1f}): is the log clamped somewhere (sigmoid then BCE clamps at 100)?"
### END HIDDEN TESTS
''', 1),
answer("g_loss_nonsaturating", r'''
def g_loss_nonsaturating(fake_logits):
    """Non-saturating generator loss: mean BCE(fake, label 1) = mean -log sigmoid(D(G(z))), from logits.

    Args:
        fake_logits: (B, 1) or (B,) logits of generated images.

    Returns:
        A scalar.
    """
    ### BEGIN SOLUTION
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    ### END SOLUTION
'''),
graded("test_g_loss_nonsaturating", r'''
fake = torch.tensor([[-1.0], [0.7], [-3.0], [2.0]])
out = g_loss_nonsaturating(fake)
assert out.dim() == 0, f"the loss must be a scalar, got shape {tuple(out.shape)}"
expected = -np.log(scipy.special.expit(fake.double().numpy())).mean()
saturating = np.log(1 - scipy.special.expit(fake.double().numpy())).mean()
assert abs(out.item() - saturating) > 1e-5, \
    "this is the saturating minimax loss mean log(1 - D(G(z))); the non-saturating loss is -mean log D(G(z))"
assert abs(out.item() - expected) < 1e-5, f"got {out.item():.5f}, expected -mean log D(G(z)) = {expected:.5f}"
### BEGIN HIDDEN TESTS
# where D confidently rejects the fakes the non-saturating gradient is about -1/B per logit, not about 0
fake = torch.tensor([[-20.0], [-15.0], [-200.0]], requires_grad=True)
loss = g_loss_nonsaturating(fake)
assert torch.isfinite(loss), "not finite for very negative logits: compute from logits"
grad, = torch.autograd.grad(loss, fake)
assert torch.allclose(grad, torch.full_like(grad, -1 / 3), atol=1e-4), \
    f"gradient {grad.view(-1)} wrt the logits: is this the saturating log(1 - D(G(z))), or a flipped sign?"
### END HIDDEN TESTS
''', 1),
md(r"""
## 2. Least squares (LSGAN)

Mao et al. (2017) replace the cross-entropy by squared errors towards the targets $b=1$ (real) and $a=0$ (fake), with
$c=1$ for the generator:

$$L_D = \tfrac12\,\mathbb E_x[(D(x)-1)^2] + \tfrac12\,\mathbb E_z[D(G(z))^2], \qquad
L_G = \tfrac12\,\mathbb E_z[(D(G(z))-1)^2].$$

$D$ now outputs an unbounded score (no sigmoid). A fake that $D$ scores far on the wrong side of the real target
is penalised in proportion to its distance, so the generator's gradient does not vanish for fakes that are
"correctly classified but far from the data"; the paper shows that this minimises a Pearson $\chi^2$ divergence.
"""),
answer("d_loss_lsgan", r'''
def d_loss_lsgan(real_scores, fake_scores):
    """LSGAN discriminator loss: 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2].

    Args:
        real_scores, fake_scores: (B, 1) or (B,) raw scores (no sigmoid).

    Returns:
        A scalar.
    """
    ### BEGIN SOLUTION
    return 0.5 * ((real_scores - 1) ** 2).mean() + 0.5 * (fake_scores ** 2).mean()
    ### END SOLUTION
'''),
graded("test_d_loss_lsgan", r'''
real = torch.tensor([[1.5], [0.2], [-0.4]])
fake = torch.tensor([[0.3], [-1.2], [2.0]])
out = d_loss_lsgan(real, fake)
assert out.dim() == 0, f"the loss must be a scalar, got shape {tuple(out.shape)}"
expected = 0.5 * np.mean((real.numpy() - 1) ** 2) + 0.5 * np.mean(fake.numpy() ** 2)
assert abs(out.item() - expected) < 1e-5, (out, expected)
### BEGIN HIDDEN TESTS
assert abs(d_loss_lsgan(torch.ones(4, 1), torch.zeros(6, 1)).item()) < 1e-7, "a perfect D (real at 1, fake at 0) has loss 0"
g = torch.Generator().manual_seed(2)
real, fake = torch.randn(6, 1, generator=g), torch.randn(9, generator=g)
expected = 0.5 * F.mse_loss(real, torch.ones_like(real)) + 0.5 * F.mse_loss(fake, torch.zeros_like(fake))
assert torch.allclose(d_loss_lsgan(real, fake), expected, atol=1e-6), \
    "means over each batch separately, with the factor 1/2 on both terms: real towards 1, fake towards 0"
### END HIDDEN TESTS
''', 1),
answer("g_loss_lsgan", r'''
def g_loss_lsgan(fake_scores):
    """LSGAN generator loss: 1/2 E[(D(G(z)) - 1)^2].

    Args:
        fake_scores: (B, 1) or (B,) raw scores of generated images.

    Returns:
        A scalar.
    """
    ### BEGIN SOLUTION
    return 0.5 * ((fake_scores - 1) ** 2).mean()
    ### END SOLUTION
'''),
graded("test_g_loss_lsgan", r'''
fake = torch.tensor([[0.3], [-1.2], [2.0], [1.0]])
out = g_loss_lsgan(fake)
assert out.dim() == 0, f"the loss must be a scalar, got shape {tuple(out.shape)}"
assert abs(out.item() - 0.5 * np.mean((fake.numpy() - 1) ** 2)) < 1e-6, out
### BEGIN HIDDEN TESTS
g = torch.Generator().manual_seed(4)
fake = torch.randn(8, 1, generator=g)
assert torch.allclose(g_loss_lsgan(fake), 0.5 * F.mse_loss(fake, torch.ones_like(fake)), atol=1e-6), \
    "the generator pushes the fake scores towards the real target 1, with the factor 1/2"
assert abs(g_loss_lsgan(torch.ones(3)).item()) < 1e-7
### END HIDDEN TESTS
''', 1),
md(r"""
## 3. The Wasserstein critic and its gradient penalty

Arjovsky et al. (2017) train a **critic** $D$ (no sigmoid) to estimate the Wasserstein-1 distance through the
Kantorovich-Rubinstein duality,

$$W(p_{\text{data}}, p_G) = \sup_{\|D\|_L \le 1} \mathbb E_{x}[D(x)] - \mathbb E_{z}[D(G(z))].$$

The critic *maximises* the gap between real and fake scores, so it *minimises*
$\mathbb E[D(G(z))] - \mathbb E[D(x)]$; the generator minimises $-\mathbb E[D(G(z))]$. Unlike a classifier's
probability, this score keeps a useful slope everywhere, even when the two distributions do not overlap, **as long as
$D$ is 1-Lipschitz**. Without the constraint the critic's gap grows without bound.

**The gradient penalty** (Gulrajani et al., 2017). An optimal 1-Lipschitz critic has gradient norm 1 almost
everywhere on the straight lines between real and generated samples. WGAN-GP therefore penalises
$(\|\nabla_{\hat x} D(\hat x)\|_2 - 1)^2$ at random points on those lines,
$\hat x = \alpha x + (1-\alpha)\tilde x$ with $\alpha\sim U[0,1]$ per example:

$$L_D = \mathbb E[D(\tilde x)] - \mathbb E[D(x)] + \lambda\, \mathbb E_{\hat x}\big[(\|\nabla_{\hat x} D(\hat x)\|_2 - 1)^2\big],
\qquad \lambda = 10.$$

The norm is over **all** of one image's pixels and channels (a per-example gradient). The penalty is part of the
critic's loss, so it must be differentiable with respect to the critic's parameters: compute the gradient with
`torch.autograd.grad(..., create_graph=True)`. The gradient of the *sum* of the scores with respect to the batch
$\hat x$ gives every example's own gradient, because example $i$'s score depends on $\hat x_i$ only (this is why the
critic has no batch normalisation).
"""),
answer("gradient_penalty", r'''
def gradient_penalty(critic, real, fake, alpha):
    """WGAN-GP penalty: mean over the batch of (||grad_x_hat critic(x_hat)||_2 - 1)^2.

    Args:
        critic: maps (B, C, H, W) images to (B, 1) scores.
        real, fake: (B, C, H, W) images (``fake`` may come without a graph).
        alpha: (B, 1, 1, 1) weights in [0, 1]; x_hat = alpha * real + (1 - alpha) * fake.

    Returns:
        A scalar, differentiable with respect to the critic's parameters.
    """
    ### BEGIN SOLUTION
    x_hat = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)  # (B, C, H, W)
    scores = critic(x_hat)  # (B, 1)
    grad, = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)  # (B, C, H, W)
    norms = grad.flatten(1).norm(2, dim=1)  # (B,) one norm per example, over C, H and W
    return ((norms - 1) ** 2).mean()
    ### END SOLUTION
'''),
graded("test_gradient_penalty_linear", r'''
# a linear critic D(x) = w . x has gradient w everywhere: the penalty is (||w|| - 1)^2 exactly
g = torch.Generator().manual_seed(0)
linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 3 * 3, 1))
real, fake = torch.randn(4, 2, 3, 3, generator=g), torch.randn(4, 2, 3, 3, generator=g)
alpha = torch.rand(4, 1, 1, 1, generator=g)
out = gradient_penalty(linear, real, fake, alpha)
assert out.dim() == 0, f"the penalty must be a scalar, got shape {tuple(out.shape)}"
w_norm = linear[1].weight.detach().norm().item()
print(f"||w|| = {w_norm:.4f}, penalty {out.item():.6f}, (||w|| - 1)^2 = {(w_norm - 1) ** 2:.6f}")
assert abs(out.item() - (w_norm - 1) ** 2) < 1e-5, "for a linear critic the penalty is (||w|| - 1)^2"
### BEGIN HIDDEN TESTS
# D(x) = sum_i x_i^2 / 2 has gradient x_hat itself: the penalty depends on WHERE it is evaluated
class Quadratic(torch.nn.Module):
    def forward(self, x):
        return 0.5 * (x ** 2).flatten(1).sum(1, keepdim=True)  # (B, 1)
g = torch.Generator().manual_seed(5)
real, fake = torch.randn(6, 2, 4, 4, generator=g), 0.3 * torch.randn(6, 2, 4, 4, generator=g)
alpha = torch.tensor([0.0, 0.1, 0.5, 0.8, 1.0, 0.3]).view(6, 1, 1, 1)
x_hat = alpha * real + (1 - alpha) * fake
expected = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
got = gradient_penalty(Quadratic(), real, fake, alpha)
assert torch.allclose(got, expected, atol=1e-4), \
    f"{got.item():.4f} vs {expected.item():.4f}: evaluate the gradient at x_hat = alpha * real + (1 - alpha) * fake " \
    "(not at the real or fake images, and alpha weights the REAL images), one 2-norm per example over C, H and W"
### END HIDDEN TESTS
''', 2),
graded("test_gradient_penalty_backprop", r'''
# the penalty must reach the critic's parameters (create_graph=True)
linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1))
g = torch.Generator().manual_seed(1)
real, fake, alpha = torch.randn(5, 3, 2, 2, generator=g), torch.randn(5, 3, 2, 2, generator=g), torch.rand(5, 1, 1, 1, generator=g)
gradient_penalty(linear, real, fake, alpha).backward()
grad_w = linear[1].weight.grad
assert grad_w is not None and grad_w.abs().sum() > 0, "no gradient reaches the critic: use torch.autograd.grad(..., create_graph=True)"
### BEGIN HIDDEN TESTS
w = linear[1].weight.detach()
expected = 2 * (w.norm() - 1) * w / w.norm()  # d/dw (||w|| - 1)^2
assert torch.allclose(grad_w, expected, atol=1e-5), f"gradient wrt w {grad_w} differs from 2 (||w|| - 1) w / ||w||"
### END HIDDEN TESTS
''', 2),
answer("d_loss_wgan_gp", r'''
def d_loss_wgan_gp(real_scores, fake_scores, gp, lam=10.0):
    """WGAN-GP critic loss: E[D(fake)] - E[D(real)] + lam * gp.

    Args:
        real_scores, fake_scores: (B, 1) or (B,) critic scores.
        gp: the scalar gradient penalty.
        lam: its weight lambda.

    Returns:
        A scalar.
    """
    ### BEGIN SOLUTION
    return fake_scores.mean() - real_scores.mean() + lam * gp
    ### END SOLUTION
'''),
graded("test_d_loss_wgan_gp", r'''
real = torch.tensor([[1.5], [0.5]])
fake = torch.tensor([[-0.5], [0.3], [0.1]])
out = d_loss_wgan_gp(real, fake, torch.tensor(0.2))
assert out.dim() == 0, f"the loss must be a scalar, got shape {tuple(out.shape)}"
assert abs(out.item() - (1.0 - (-0.5 + 0.3 + 0.1) / 3 + 10 * 0.2)) > 1e-5, \
    "the Wasserstein term has the wrong sign: the critic scores real images higher, so it minimises E[D(fake)] - E[D(real)]"
assert abs(out.item() - ((-0.5 + 0.3 + 0.1) / 3 - 1.0 + 10 * 0.2)) < 1e-5, \
    f"got {out.item():.5f}, expected E[D(fake)] - E[D(real)] + lam * gp = {(-0.5 + 0.3 + 0.1) / 3 - 1.0 + 10 * 0.2:.5f}"
### BEGIN HIDDEN TESTS
g = torch.Generator().manual_seed(6)
real, fake = torch.randn(7, 1, generator=g), torch.randn(7, 1, generator=g) - 2
gp = torch.tensor(0.37)
expected = fake.numpy().mean() - real.numpy().mean() + 3.0 * 0.37
assert abs(d_loss_wgan_gp(real, fake, gp, lam=3.0).item() - expected) < 1e-5, \
    "the critic MINIMISES E[D(fake)] - E[D(real)] (it scores real images higher), plus lam * gp with the given lam"
assert abs(d_loss_wgan_gp(real, fake, gp, 0.0).item() - (fake.mean() - real.mean()).item()) < 1e-6
### END HIDDEN TESTS
''', 1),
answer("g_loss_wgan", r'''
def g_loss_wgan(fake_scores):
    """WGAN generator loss: -E[D(G(z))].

    Args:
        fake_scores: (B, 1) or (B,) critic scores of generated images.

    Returns:
        A scalar.
    """
    ### BEGIN SOLUTION
    return -fake_scores.mean()
    ### END SOLUTION
'''),
graded("test_g_loss_wgan", r'''
out = g_loss_wgan(torch.tensor([[1.0], [2.0], [-0.5]]))
assert out.dim() == 0, f"the loss must be a scalar, got shape {tuple(out.shape)}"
assert abs(out.item() - (-2.5 / 3)) < 1e-6, out
### BEGIN HIDDEN TESTS
g = torch.Generator().manual_seed(7)
fake = torch.randn(9, generator=g, requires_grad=True)
grad, = torch.autograd.grad(g_loss_wgan(fake), fake)
assert torch.allclose(grad, torch.full_like(grad, -1 / 9)), "the generator raises the critic's mean score of its fakes"
### END HIDDEN TESTS
''', 1),
md(r"""
## 4. Walking in latent space

A trained generator is a smooth map, so a straight line between two codes $z_0, z_1$ decodes to a path of images
that morphs one sample into the other, every frame a plausible image. (Cross-fading the two *images* instead gives
double exposures; section 7 compares the two.) Write the linear path
$z(\alpha) = (1-\alpha)\,z_0 + \alpha\, z_1$ for a batch of $\alpha$ values.
"""),
answer("interpolate_latents", r'''
def interpolate_latents(z0, z1, alphas):
    """Points on the straight line from z0 (alpha = 0) to z1 (alpha = 1).

    Args:
        z0, z1: (D,) latent codes.
        alphas: (K,) interpolation weights (a tensor or a sequence of floats).

    Returns:
        (K, D): row k is (1 - alphas[k]) * z0 + alphas[k] * z1.
    """
    ### BEGIN SOLUTION
    alphas = torch.as_tensor(alphas, dtype=z0.dtype, device=z0.device).view(-1, 1)  # (K, 1)
    return (1 - alphas) * z0 + alphas * z1  # (K, D)
    ### END SOLUTION
'''),
graded("test_interpolate_latents", r'''
z0, z1 = torch.tensor([0.0, 2.0, -1.0]), torch.tensor([1.0, 0.0, 3.0])
out = interpolate_latents(z0, z1, torch.tensor([0.0, 0.25, 1.0]))
assert out.shape == (3, 3), f"expected shape (len(alphas), D) = (3, 3), got {tuple(out.shape)}"
assert torch.allclose(out[0], z0) and torch.allclose(out[-1], z1), "alpha = 0 gives z0 and alpha = 1 gives z1"
assert torch.allclose(out[1], torch.tensor([0.25, 1.5, 0.0])), out[1]
### BEGIN HIDDEN TESTS
g = torch.Generator().manual_seed(8)
z0, z1 = torch.randn(16, generator=g), torch.randn(16, generator=g)
alphas = [0.9, 0.1, 0.5, 0.33]
expected = np.outer(1 - np.array(alphas), z0.numpy()) + np.outer(alphas, z1.numpy())
got = interpolate_latents(z0, z1, alphas)
assert tuple(got.shape) == (4, 16) and np.allclose(got.numpy(), expected, atol=1e-6), \
    "row k must be (1 - alphas[k]) * z0 + alphas[k] * z1, in the order given (alphas may be a list)"
### END HIDDEN TESTS
''', 1),
md(r"""
## 5. Train the three GANs

One architecture (`course_lib.nets.gan`: in the fast profile an MLP generator with batch normalisation and an MLP
critic without it), one optimiser (Adam, the profile's learning rate and betas), three objectives. The loop
(`course_lib.train.gan.train_gan`) takes **your** loss functions; for WGAN-GP it draws $\alpha$ and calls your
`gradient_penalty`, and the critic takes several steps per generator step. Every `fid_every` iterations it logs the
FID of a few hundred samples against held-out images.

**FID** (Heusel et al., 2017) fits a Gaussian to the features of real images and one to the features of generated
images and measures the Frechet distance between them,
$\|\mu_r-\mu_g\|^2 + \operatorname{Tr}(\Sigma_r+\Sigma_g-2(\Sigma_r\Sigma_g)^{1/2})$. Lower is better; it sees both
quality (the means) and diversity (the covariances). The full profile uses Inception-v3 features (the standard
protocol); the fast one uses a small digit classifier's features, so its values are on another scale.

Each training cell is *load-or-train*: if `checkpoints/<variant>.pt` exists for the active profile it is loaded and
nothing trains. Delete a checkpoint to retrain that variant after you change its losses.
"""),
code(r"""
train_set = load(cfg.dataset, cfg.train_split)
extractor = get_extractor(cfg.extractor, device=device)
reference = reference_statistics(cfg.dataset, cfg.fid_split, extractor, max_images=cfg.fid_max_reference or None)


def fid_of(generator):
    # FID of cfg.fid_samples_train samples (a fixed seed) against the held-out split
    return fid_score(sample(generator, cfg.fid_samples_train, seed=1, device=device), extractor, reference)


def train_variant(variant, d_loss, g_loss, penalty=None):
    seed_everything(cfg.seed)
    gan = build_gan(cfg).to(device)
    meta = load_or_train(
        f"checkpoints/{variant}.pt", gan,
        lambda: {"history": train_gan(gan.generator, gan.critic, d_loss=d_loss, g_loss=g_loss,
                                      gradient_penalty=penalty, data=train_set, config=config_for(cfg, variant),
                                      fid_fn=fid_of, device=device)},
        profile=PROFILE,
    )
    gan = gan.to(device).eval()
    history = meta["history"]
    print(f"{variant}: {'loaded' if meta['loaded'] else 'trained'}; FID while training "
          f"{[round(f, 1) for f in history['fid']]}")
    return gan, history


gans, histories = {}, {}
"""),
code(r"""
gans["nonsaturating"], histories["nonsaturating"] = train_variant("nonsaturating", d_loss_nonsaturating, g_loss_nonsaturating)
"""),
code(r"""
gans["lsgan"], histories["lsgan"] = train_variant("lsgan", d_loss_lsgan, g_loss_lsgan)
"""),
code(r"""
gans["wgan_gp"], histories["wgan_gp"] = train_variant("wgan_gp", d_loss_wgan_gp, g_loss_wgan, gradient_penalty)
"""),
md(r"""
## 6. Losses, FID and samples

The three loss scales are not comparable (a cross-entropy, a squared error, a Wasserstein estimate plus a penalty),
so read each curve for its shape: the non-saturating and LSGAN discriminators hover around a balance, while the
WGAN critic's loss is minus its estimate of the distance, which should shrink towards 0 as the generator improves.
FID is on one scale for all three.
"""),
code(r"""
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for i, (name, h) in enumerate(histories.items()):
    axes[0].plot(h["iteration"], h["d_loss"], color=f"C{i}", label=f"{name}: D")
    axes[0].plot(h["iteration"], h["g_loss"], color=f"C{i}", ls="--", label=f"{name}: G")
    axes[1].plot(h["iteration"], h["d_loss"], color=f"C{i}", label=name)
    axes[2].plot(h["fid_iteration"], h["fid"], color=f"C{i}", marker="o", label=name)
axes[0].set_title("generator (dashed) and critic losses"); axes[1].set_title("critic losses only")
axes[2].set_title(f"FID ({cfg.extractor} features, {cfg.fid_samples_train} samples)")
for ax in axes:
    ax.set_xlabel("generator iteration"); ax.grid(alpha=0.3); ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig("figures/losses_fid.png", dpi=100, bbox_inches="tight")
plt.show()
"""),
code(r"""
fig, axes = plt.subplots(1, 3, figsize=(15, 5.5))
for ax, (name, gan) in zip(axes, gans.items()):
    show_images(sample(gan.generator, 64, seed=0, device=device), nrow=8, title=name, ax=ax)
fig.savefig("figures/samples.png", dpi=100, bbox_inches="tight")
plt.show()
"""),
md(r"""
**What the penalty enforces.** The penalty only acts on the points $\hat x$ between real and generated images, and
it pulls the critic's gradient norm there towards 1: a soft version of "$D$ is 1-Lipschitz". After a short run the
norms should sit near 1 (not near 0 and not in the hundreds, as for an unconstrained critic); because the MLP critic is
smooth, the real and generated images themselves end up with similar norms.
"""),
code(r"""
critic = gans["wgan_gp"].critic
real = train_set.images[torch.randperm(len(train_set), generator=torch.Generator().manual_seed(0))[:256]].to(device)
fake = sample(gans["wgan_gp"].generator, 256, seed=2, device=device).to(device)
points = {"real": real, "fake": fake,
          "between (x_hat)": (lambda a: a * real + (1 - a) * fake)(torch.rand(256, 1, 1, 1, generator=torch.Generator().manual_seed(3)).to(device))}
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, x in points.items():
    x = x.clone().requires_grad_(True)
    grad, = torch.autograd.grad(critic(x).sum(), x)
    norms = grad.flatten(1).norm(dim=1).cpu()
    ax.hist(norms.numpy(), bins=30, alpha=0.5, label=f"{name}: mean {norms.mean():.2f}")
ax.axvline(1.0, color="k", ls=":"); ax.set_xlabel(r"$\|\nabla_x D(x)\|_2$"); ax.legend(fontsize=8)
ax.set_title("WGAN-GP critic: gradient norms")
fig.savefig("figures/gradient_norms.png", dpi=100, bbox_inches="tight")
plt.show()
"""),
md(r"""
## 7. The latent space

**A 10x10 grid.** Fix a code $z$ and sweep two of its coordinates over $[-1, 1]$ (rows: coordinate 0, columns:
coordinate 1). A smooth generator changes the image gradually along both axes.
"""),
code(r"""
G = gans["wgan_gp"].generator
z = torch.randn(cfg.latent_dim, generator=torch.Generator().manual_seed(4))
grid = latent_grid(G, z, dims=(0, 1), n=10, span=1.0)  # (100, C, H, W)
show_images(grid, nrow=10, title="WGAN-GP: z[0] (rows) and z[1] (columns) in [-1, 1]", path="figures/latent_grid.png")
plt.show()
"""),
md(r"""
**Latent walk and pixel cross-fade.** The frames below are computed once with your `interpolate_latents`; the
sliders only pick a frame. The first slider walks from $G(z_0)$ to $G(z_1)$; the second puts the latent frame beside
the pixel cross-fade $(1-\alpha)\,G(z_0) + \alpha\, G(z_1)$, whose middle frames are two half-transparent digits rather
than one digit.
"""),
code(r"""
gen = torch.Generator().manual_seed(5)
z0, z1 = torch.randn(cfg.latent_dim, generator=gen), torch.randn(cfg.latent_dim, generator=gen)
alphas = torch.linspace(0, 1, 21)
latent_frames = decode_path(G, interpolate_latents(z0, z1, alphas))  # (21, C, H, W)
pixel_frames = pixel_path(latent_frames[0], latent_frames[-1], alphas)  # (21, C, H, W)
show_images(torch.cat([latent_frames[::2], pixel_frames[::2]]), nrow=11,
            title="top: latent interpolation, bottom: pixel cross-fade", path="figures/interpolation.png")
plt.show()
"""),
code(r"""
walk_slider(latent_frames, alpha=0.5)
"""),
code(r"""
compare_slider(latent_frames, pixel_frames, alpha=0.5)
"""),
md(r"""
## 8. Thresholds

The grader loads each `checkpoints/<variant>.pt`, draws its own samples and measures their FID against the held-out
images with its own code (the numbers printed above are not trusted). In the `full` profile the targets are the
homework's (FID with Inception features, 50k samples): non-saturating below 110, LSGAN below 90, WGAN-GP below 70.
In the `fast` profile the thresholds were calibrated on this data (see the course's docs/calibration).
"""),
graded("test_threshold_nonsaturating", r'''
print(f"profile {PROFILE}: the FID of checkpoints/nonsaturating.pt must be below {cfg.max_fid('nonsaturating')}")
### BEGIN HIDDEN TESTS
from autograder.reference.gan import check_fid_threshold
print("FID", check_fid_threshold("nonsaturating"))
### END HIDDEN TESTS
''', 2),
graded("test_threshold_lsgan", r'''
print(f"profile {PROFILE}: the FID of checkpoints/lsgan.pt must be below {cfg.max_fid('lsgan')}")
### BEGIN HIDDEN TESTS
from autograder.reference.gan import check_fid_threshold
print("FID", check_fid_threshold("lsgan"))
### END HIDDEN TESTS
''', 2),
graded("test_threshold_wgan_gp", r'''
print(f"profile {PROFILE}: the FID of checkpoints/wgan_gp.pt must be below {cfg.max_fid('wgan_gp')}")
### BEGIN HIDDEN TESTS
from autograder.reference.gan import check_fid_threshold
print("FID", check_fid_threshold("wgan_gp"))
### END HIDDEN TESTS
''', 2),
]


def build() -> nbformat.NotebookNode:
    return cells.build(CELLS)


if __name__ == "__main__":
    cells.write(CELLS, OUT)
