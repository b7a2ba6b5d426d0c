"""Profiles of 06_vqvae (a vector-quantised VAE, van den Oord et al. 2017; issue 20's course report and Berkeley
CS294-158's VQ-VAE homework are the anchors).

``full``: CIFAR-10 32x32 in [-1, 1] (the report used tiny ImageNet at 64x64, which the course cannot ship or
download), the paper's encoder (two stride-2 convolutions of 128 / 256 channels, two residual blocks), 16-dimensional
codes on an 8x8 map, codebooks of 64 / 128 / 256 codes, beta = 0.25, Adam 2e-4 at batch 128 (the paper's), 30 epochs.

``fast``: mnist5k's 4,000 training digits (1x28x28, a 7x7 code map), all 1,000 validation digits held out, channels
16 / 32, one residual block, Adam 2e-3 at batch 64 for 4 epochs per codebook size: the whole notebook runs in under a
minute on one CPU thread.

Thresholds (held-out reconstruction MSE per codebook size) are ``math.inf``: not graded until calibrated. No
``python -m autograder calibrate 06_vqvae`` has run yet (docs/assignments/06_vqvae.md shows one correct run and the
mistakes' runs); when it has, copy the placed values of docs/calibration/06_vqvae.json into FAST.
"""

from __future__ import annotations

import dataclasses
import math

from course_lib.profiles import register


@dataclasses.dataclass(frozen=True)
class VQVAEProfile:
    """Settings and reference thresholds of 06_vqvae.

    Attributes:
        dataset, in_channels, image_size: the images (H = W = image_size, a multiple of 4).
        train_size: the first ``train_size`` training images (0: all of them).
        widths, res_blocks: the encoder's two convolution widths and its residual blocks (course_lib.nets.vqvae).
        code_dim: D, the length of a code vector.
        codebook_sizes: K of each run (``checkpoints/vqvae_<K>.pt``).
        beta: the commitment cost (eq. 3).
        batch_size, lr, epochs, seed: Adam on reconstruction + codebook + commitment loss.
        eval_size: held-out images every measurement uses (the first ``eval_size`` of the val split; 0: all).
        pca_components, gmm_components: the prior over the code maps: a Gaussian mixture with
            ``gmm_components`` full-covariance components on ``pca_components`` principal components of the
            quantised maps of the training images, fitted for the largest K.
        prior_samples: images sampled from the prior for the figure.
        max_recon_<K>: threshold on the held-out reconstruction MSE of the run with K codes (math.inf: not graded).
    """

    dataset: str = "cifar10"
    in_channels: int = 3
    image_size: int = 32
    train_size: int = 0
    widths: tuple[int, int] = (128, 256)
    res_blocks: int = 2
    code_dim: int = 16
    codebook_sizes: tuple[int, ...] = (64, 128, 256)
    beta: float = 0.25
    batch_size: int = 128
    lr: float = 2e-4
    epochs: int = 30
    seed: int = 0
    eval_size: int = 0
    pca_components: int = 32
    gmm_components: int = 10
    prior_samples: int = 32
    # held-out reconstruction MSE (mean over every pixel, model range [-1, 1]); math.inf: not graded until
    # `python -m autograder calibrate 06_vqvae` places them (docs/assignments/06_vqvae.md)
    max_recon_64: float = math.inf
    max_recon_128: float = math.inf
    max_recon_256: float = math.inf

    def __post_init__(self) -> None:
        if self.image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4 (two stride-2 convolutions), got {self.image_size}")
        if tuple(self.codebook_sizes) != (64, 128, 256):
            raise ValueError(f"codebook_sizes must be (64, 128, 256) (one threshold each), got {self.codebook_sizes}")
        if not self.beta > 0 or not self.lr > 0:
            raise ValueError(f"beta and lr must be positive, got beta={self.beta}, lr={self.lr}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")

    def graded_checkpoints(self) -> tuple[str, ...]:
        """Runs whose ``checkpoints/<run>.pt`` the graded cells evaluate (a submission must carry them)."""
        return tuple(f"vqvae_{k}" for k in self.codebook_sizes)

    def max_recon(self, k: int) -> float:
        """The threshold of the run with ``k`` codes."""
        return getattr(self, f"max_recon_{k}")


FULL = VQVAEProfile()

FAST = VQVAEProfile(
    dataset="mnist5k",
    in_channels=1,
    image_size=28,
    widths=(16, 32),
    res_blocks=1,
    batch_size=64,
    lr=2e-3,
    epochs=4,
    pca_components=16,
    gmm_components=10,
    prior_samples=16,
    # docs/calibration/06_vqvae.json (python -m autograder calibrate 06_vqvae; tests/test_calibration.py checks these
    # equal it): each the correct runs' 0.1% prediction bound, rounded up
    max_recon_64=0.0934,
    max_recon_128=0.0907,
    max_recon_256=0.0935,
)

# smoke mode (COURSE_SMOKE=1, course_lib.profiles): the full profile with only lengths and sample counts shrunk
SMOKE = dict(epochs=1, batch_size=8, train_size=16, eval_size=8, pca_components=2, gmm_components=2, prior_samples=4)

# rough FLOP estimate: about 1 GFLOP per image step (forward and backward), 50,000 images x 30 epochs x 3 runs
register("06_vqvae", full=FULL, fast=FAST, smoke=SMOKE, cost="about 10 min")
