"""Profiles of 07_cgan: a class-conditional GAN (Mirza and Osindero 2014) with a projection discriminator (Miyato
and Koyama 2018), one run (``checkpoints/cgan.pt``).

``full``: CIFAR-10 at 32x32 with its ten classes and a conditional DCGAN, as the anchor (issue 20's course report)
trains a DCGAN whose generator and discriminator see the class: 01's DCGAN generator fed z (128) and the one-hot
class, a DCGAN discriminator (three strided convolutions, global sum pooling) with the projection head; Adam 2e-4,
betas (0.5, 0.999), batch 128, 20,000 generator steps of one discriminator step each. No classifier for CIFAR-10
ships with the course, so the class-accuracy threshold is not graded there (``-inf``: every run passes) until a
CIFAR-10 classifier and a full-profile calibration exist.

``fast``: mnist5k's 4,000 training digits with their labels (28x28), MLPs of width 128, z of 64, Adam 5e-4 with betas
(0.5, 0.999) at batch 64, one run of 1,200 generator steps: the whole notebook takes about 30 s on one CPU thread. The
threshold is the class accuracy of generated samples: ``samples_per_class`` samples of every class from a fixed z,
classified by the digit classifier the course ships (course_lib/assets/digit_classifier.pt, 0.975 on the held-out
digits), placed by ``python -m autograder calibrate 07_cgan`` (docs/calibration/07_cgan.json and .md).
"""

from __future__ import annotations

import dataclasses
import math

from course_lib.nets.cgan import ARCHS
from course_lib.profiles import register

CLASSIFIERS = ("digits", "none")  # the classifier of generated samples: the shipped digit classifier, or none


@dataclasses.dataclass(frozen=True)
class CGANProfile:
    """Settings and reference thresholds of 07_cgan.

    Attributes:
        dataset, train_split: the labelled training images (:func:`course_lib.data.load`).
        channels, image_size, n_classes: the images (C, H = W) and K, the number of classes.
        arch: ``"mlp"`` (fast) or ``"dcgan"`` (full), see :mod:`course_lib.nets.cgan`.
        latent_dim: D, the size of z; ``width``: base width of both nets.
        iterations: generator steps (one discriminator step each); ``batch_size``, ``lr``, ``betas``: Adam.
        classifier: ``"digits"`` (the shipped digit classifier) or ``"none"`` (no class accuracy is measured).
        samples_per_class: generated samples of each class the class accuracy and the intra-FID are measured on
            (from a fixed z).
        extractor, fid_split: the features of the intra-FID (:func:`course_lib.metrics.fid.get_extractor`) and the
            held-out split whose images of each class it compares that class's samples with.
        min_class_accuracy_cgan: threshold on the class accuracy of ``checkpoints/cgan.pt``'s samples (higher is
            better; ``-inf``: not graded).
        max_intra_fid_cgan: threshold on their intra-FID, the mean over classes of each class's FID (lower is
            better; ``inf``: not graded).
        seed: seed of the run.
    """

    dataset: str
    train_split: str
    channels: int
    image_size: int
    arch: str
    latent_dim: int
    width: int
    iterations: int
    batch_size: int
    lr: float
    classifier: str
    samples_per_class: int
    extractor: str
    fid_split: str
    min_class_accuracy_cgan: float = -math.inf
    max_intra_fid_cgan: float = math.inf
    n_classes: int = 10
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(map(repr, ARCHS))}, got {self.arch!r}")
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"classifier must be one of {', '.join(map(repr, CLASSIFIERS))}, got {self.classifier!r}")
        if self.iterations < 1 or self.batch_size < 2 or not self.lr > 0:
            raise ValueError(f"iterations >= 1, batch_size >= 2 and lr > 0 needed, got {self}")
        if self.n_classes < 2 or self.samples_per_class < 1:
            raise ValueError(f"n_classes >= 2 and samples_per_class >= 1 needed, got {self}")

    def graded_checkpoints(self) -> tuple[str, ...]:
        """Runs whose ``checkpoints/<run>.pt`` the graded cells evaluate (a submission must carry them)."""
        return ("cgan",)


FULL = CGANProfile(
    dataset="cifar10",
    train_split="train",
    channels=3,
    image_size=32,
    arch="dcgan",
    latent_dim=128,
    width=128,
    iterations=20_000,
    batch_size=128,
    lr=2e-4,
    # no CIFAR-10 classifier ships: the class accuracy is not measured and not graded (-inf) in this profile
    classifier="none",
    samples_per_class=1_000,
    # intra-FID (Miyato and Koyama 2018, Sec. 5.1) with Inception features against each class's 1,000 test images;
    # no full-profile calibration has run (no GPU): not graded (inf) until one places it
    extractor="inception",
    fid_split="test",
)

FAST = CGANProfile(
    dataset="mnist5k",
    train_split="train",
    channels=1,
    image_size=28,
    arch="mlp",
    latent_dim=64,
    width=128,
    iterations=1_200,
    batch_size=64,
    lr=5e-4,
    classifier="digits",
    samples_per_class=100,
    extractor="digits",
    fid_split="val",  # mnist5k's 1,000 held-out digits, about 100 of each class
    # docs/calibration/07_cgan.json (python -m autograder calibrate 07_cgan; tests/test_calibration.py checks this equals
    # it): 10 correct runs over 1 and 2 threads reach a class accuracy of 0.821 +- 0.034 (worst 0.745); the threshold is
    # their 0.1% prediction bound rounded down. The discriminator without the projection term and the generator
    # without the one-hot give chance (0.097-0.107); the saturating generator loss trains as well (0.837, 0.859): only
    # its unit-test cell catches it
    min_class_accuracy_cgan=0.669,
    # the same 10 runs' intra-FID with the digit features: 235 +- 30 (worst 312); the 0.1% prediction bound, rounded up.
    # The two label mistakes give 915-1,030; the saturating generator loss 184-221 (it passes, as above)
    max_intra_fid_cgan=381.0,
)

# smoke mode (COURSE_SMOKE=1, course_lib.profiles): the full profile with only these lengths and sample counts shrunk
SMOKE = dict(iterations=2, batch_size=8, samples_per_class=2)

# the full profile's GPU time, an estimate, not a measurement: 1.79 GFLOP per image per iteration (torch.utils.flop_counter
# on both steps) x 128 x 20,000 is about 3 min at 25 TFLOP/s; registered higher for a small model's overheads
register("07_cgan", full=FULL, fast=FAST, smoke=SMOKE, cost="about 10 min")
