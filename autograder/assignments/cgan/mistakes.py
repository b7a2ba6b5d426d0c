"""07_cgan: the common mistakes and what each must cost (autograder.mistakes; calibration: docs/calibration/07_cgan.md).

Every student function is called by training, so every mistake retrains the run (``drop=("*",)``). Dropping the
projection term leaves an unconditional discriminator and zeros in place of the one-hot leave a generator that cannot
see the class: either way the samples' classes are chance (about 0.1), and both threshold cells fail (each class's
samples are then far from that class's digits: intra-FID about 900-1,000 against about 220 for correct runs). The saturating
generator loss still trains this short run to class-conditional digits, so only its unit-test cell catches it. The
hard-coded one-hot has the visible example's shape, which the generator refuses: training stops, no checkpoint is
written and both threshold cells fail.
"""

from autograder.mistakes import Mistake

NO_PROJECTION = """
def projection_logits(features, labels, embedding, psi):
    return psi(features).squeeze(-1)  # mistake: the projection term <embed(y), phi(x)> is dropped
"""
ZEROS_NOT_ONE_HOT = """
def generator_input(z, labels, n_classes):
    # mistake: zeros where the one-hot of the label goes, so the generator never sees the class
    return torch.cat([z, torch.zeros(z.shape[0], n_classes, dtype=z.dtype, device=z.device)], dim=1)
"""
G_SATURATING = """
def g_loss_conditional(d_fake):
    # mistake: the minimax generator loss mean log(1 - sigmoid(d_fake)), which saturates
    return -F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
"""
HARD_CODED = """
def generator_input(z, labels, n_classes):
    return torch.tensor([[0.5, -1.0, 1.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0, 1.0]])  # the visible test's answer
"""

CHECKPOINT_CELLS = ("test_threshold_cgan", "test_threshold_cgan_intra_fid")

MISTAKES = {
    "labels_ignored_by_discriminator": Mistake(
        {"projection_logits": NO_PROJECTION},
        (
            "test_projection_logits",
            "test_conditioning_changes_output",
            "test_threshold_cgan",
            "test_threshold_cgan_intra_fid",
        ),
        drop=("*",),
        hint="the class must change the logit",
    ),
    "generator_ignores_labels": Mistake(
        {"generator_input": ZEROS_NOT_ONE_HOT},
        (
            "test_generator_input",
            "test_conditioning_changes_output",
            "test_threshold_cgan",
            "test_threshold_cgan_intra_fid",
        ),
        drop=("*",),
        hint="one-hot",
    ),
    "g_saturating": Mistake(
        {"g_loss_conditional": G_SATURATING}, ("test_g_loss_conditional",), drop=("*",), hint="saturating"
    ),
    "hard_coded": Mistake(
        {"generator_input": HARD_CODED},
        (
            "test_generator_input",
            "test_conditioning_changes_output",
            "test_threshold_cgan",
            "test_threshold_cgan_intra_fid",
        ),
        drop=("*",),
        hint="hard-coded",
    ),
}
