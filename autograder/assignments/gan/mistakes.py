"""01_gan: the mistakes and their costs (calibration: docs/calibration/01_gan.md).

A mistake in a loss changes only the training of the variants that use it (``d_loss_wgan_gp``: WGAN-GP and
WGAN-LP), so the submission lacks those checkpoints and the graded run retrains them with the broken
function, exactly as the calibration did; the other variants keep the solution run's checkpoints.
"""

from autograder.mistakes import Mistake

G_SATURATING = """
def g_loss_nonsaturating(fake_logits):
    # mistake: the minimax generator loss mean log(1 - sigmoid(l)), which saturates
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
"""
CRITIC_SIGN = """
def d_loss_wgan_gp(real_scores, fake_scores, gp, lam=10.0):
    return real_scores.mean() - fake_scores.mean() + lam * gp  # mistake: sign of the Wasserstein estimate
"""
LP_TWO_SIDED = """
def lipschitz_penalty(critic, real, fake, alpha):
    x_hat = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()  # mistake: no clamp, i.e. the two-sided penalty
"""
INTERP_REVERSED = """
def interpolate_latents(z0, z1, alphas):
    alphas = torch.as_tensor(alphas, dtype=z0.dtype).view(-1, 1)
    return alphas * z0 + (1 - alphas) * z1  # mistake: alpha = 0 gives z1
"""
HARD_CODED = """
def interpolate_latents(z0, z1, alphas):
    return torch.tensor([[0.0, 2.0, -1.0], [0.25, 1.5, 0.0], [1.0, 0.0, 3.0]])  # the visible test's answer
"""

CHECKPOINT_CELLS = (
    "test_threshold_nonsaturating",
    "test_threshold_lsgan",
    "test_threshold_wgan_gp",
    "test_threshold_wgan_lp",
)

MISTAKES = {
    # retrained with the saturating loss it still reaches FID 513 (< 650): only the unit-test cell catches it
    "g_saturating": Mistake(
        {"g_loss_nonsaturating": G_SATURATING},
        ("test_g_loss_nonsaturating",),
        drop=("nonsaturating",),
        hint="saturating minimax loss",
    ),
    # the critic loss of both Wasserstein runs: WGAN-GP and WGAN-LP both retrain with it (FID about 1,900-2,040)
    "critic_sign": Mistake(
        {"d_loss_wgan_gp": CRITIC_SIGN},
        ("test_d_loss_wgan_gp", "test_threshold_wgan_gp", "test_threshold_wgan_lp"),
        drop=("wgan_gp", "wgan_lp"),
        hint="wrong sign",
    ),
    # the WGAN-GP penalty handed in as the one-sided one: WGAN-LP then trains exactly as WGAN-GP does (the same
    # seed and settings); the unit tests with ||w|| < 1 catch it (a penalty, and a gradient, where none is due)
    "lp_two_sided": Mistake(
        {"lipschitz_penalty": LP_TWO_SIDED},
        ("test_lipschitz_penalty_linear", "test_lipschitz_penalty_backprop"),
        drop=("wgan_lp",),
        hint="two-sided",
    ),
    "interp_reversed": Mistake(
        {"interpolate_latents": INTERP_REVERSED}, ("test_interpolate_latents",), hint="alpha = 0 gives z0"
    ),
    "hard_coded": Mistake({"interpolate_latents": HARD_CODED}, ("test_interpolate_latents",), hint="row k must be"),
}
