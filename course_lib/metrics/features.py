"""Feature extractors for FID: the offline digit classifier and the FID Inception network.

Every extractor is a ``torch.nn.Module`` in eval mode with attributes ``name``, ``layer``,
``resolution`` (the side its input is resized to), ``num_features`` and ``weights_id`` (a short
fingerprint of the weights, part of the reference-statistics cache key), and
``forward(images) -> (B, F)`` float32 features for images (B, C, H, W) in [-1, 1].

* ``"digits"``: :class:`course_lib.nets.digit_classifier.DigitClassifier`, penultimate layer (128-d),
  weights shipped in ``course_lib/assets/digit_classifier.pt``. Offline; for MNIST-like data.
* ``"inception"``: the FID Inception-v3 (pytorch-fid / TTUR protocol), pool3 (2048-d), inputs
  resized to 299x299 bilinearly. Its weights are not shipped: see :data:`INCEPTION_FILE`.
* ``"inception-clean"``: the same network and weights with clean-fid's protocol (Parmar, Zhang and Zhu,
  *On Aliased Resizing and Surprising Subtleties in GAN Evaluation*, CVPR 2022; its "clean" mode): each channel
  resized to 299x299 with PIL's bicubic filter in float, no 8-bit quantisation of the generated images,
  inputs scaled as (x - 128) / 128. The anchors that set FID thresholds with clean-fid (CMU 16-824) are
  compared in this one.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.checkpoints import load_into
from course_lib.device import get_device
from course_lib.nets.digit_classifier import DIGIT_RESOLUTION, DigitClassifier
from course_lib.nets.fid_inception import build_fid_inception, pool3_features

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DIGIT_WEIGHTS = ASSETS / "digit_classifier.pt"
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{INCEPTION_FILE}"
INCEPTION_ENV = "COURSE_INCEPTION_WEIGHTS"
RANDOM = "random"  # weights="random": random initialisation with a fixed seed, for offline tests only
EXTRACTORS = ("digits", "inception", "inception-clean")


class InceptionWeightsMissingError(FileNotFoundError):
    """The FID Inception weights file is absent; the message says what to fetch and where to put it."""


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor of shape (B, C, H, W), got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"expected images of shape (B, C, H, W) with C = 1 or 3 in [-1, 1], got shape {tuple(images.shape)}; "
            "add a channel axis with images.unsqueeze(1) for (B, H, W) grey images"
        )


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def _random_init(build):
    # a fixed seed without touching the caller's global random state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build()


class DigitFeatures(nn.Module):
    """The offline extractor: penultimate-layer features of the shipped digit classifier.

    Args:
        weights: a checkpoint path (default: :data:`DIGIT_WEIGHTS`) or ``"random"`` (tests only).
    """

    name = "digits"
    layer = "fc1"
    resolution = DIGIT_RESOLUTION

    def __init__(self, *, weights: str | os.PathLike | None = None):
        super().__init__()
        self.net = _random_init(DigitClassifier)
        if weights == RANDOM:
            self.weights_id, self.meta = f"{RANDOM}-seed0", {}
        else:
            path = Path(weights) if weights is not None else DIGIT_WEIGHTS
            self.meta = load_into(self.net, path)
            self.weights_id = _fingerprint(path)
        self.num_features = self.net.num_features
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1], C = 1 or 3, any H, W -> (B, 128) float32 features."""
        _check_images(images)
        return self.net.features(images)


class InceptionFeatures(nn.Module):
    """The FID Inception-v3 pool3 features (2048-d), pytorch-fid's protocol.

    Images in [-1, 1] are clamped, quantised to 8 bits (as when saved to PNG, which FID reference
    implementations read), grey is repeated to RGB, and the batch is resized to 299x299 bilinearly
    (``align_corners=False``, as pytorch-fid).

    Args:
        weights: path to ``pt_inception-2015-12-05-6726825d.pth``; default: ``$COURSE_INCEPTION_WEIGHTS``,
            else torch hub's cache (``$TORCH_HOME/hub/checkpoints/``, where pytorch-fid stores it).
            ``"random"``: random weights with a fixed seed, only to test the mechanics offline.
    """

    name = "inception"
    layer = "pool3"
    resolution = 299
    num_features = 2048

    def __init__(self, *, weights: str | os.PathLike | None = None):
        super().__init__()
        path = None if weights == RANDOM else resolve_inception_weights(weights)  # fail before building
        if path is None:
            self.net = _random_init(build_fid_inception)
            self.weights_id = f"{RANDOM}-seed0"
        else:
            # built without initialising (seconds per extractor on a CPU), then every tensor taken from the file:
            # strict, so a missing or extra key still raises
            with torch.device("meta"):
                self.net = build_fid_inception()
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.net.load_state_dict(state, assign=True)
            self.weights_id = _fingerprint(path)
        self.requires_grad_(False)
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1], C = 1 or 3 -> (B, 2048) float32 pool3 features."""
        _check_images(images)
        x = images.to(torch.float32).clamp(-1.0, 1.0)
        # 8-bit quantisation: [-1, 1] -> {0, ..., 255} -> [-1, 1]
        x = torch.round((x + 1.0) * 127.5) / 127.5 - 1.0
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # (B, 3, H, W)
        if x.shape[-2:] != (self.resolution, self.resolution):
            x = F.interpolate(
                x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False
            )  # (B, 3, 299, 299)
        return pool3_features(self.net, x)


@functools.lru_cache(maxsize=16)
def _pil_bicubic_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """PIL's bicubic resampling of one axis, n_in -> n_out samples, as an (n_out, n_in) float64 matrix: column j is
    PIL's own resize (32-bit float mode ``"F"``) of the j-th unit impulse, so the matrix holds exactly the weights
    PIL computes, antialiasing support included when shrinking."""
    from PIL import Image

    eye = np.eye(n_in, dtype=np.float32)
    cols = [
        np.asarray(Image.fromarray(eye[j : j + 1], mode="F").resize((n_out, 1), resample=Image.BICUBIC))[0]
        for j in range(n_in)
    ]
    return torch.from_numpy(np.stack(cols, axis=1).astype(np.float64))  # (n_out, n_in)


def clean_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """clean-fid's "clean" resize: (B, C, H, W) float in [0, 255] -> (B, C, size, size) float32 in [0, 255].

    clean-fid resizes each channel of each image as a 32-bit float PIL image (mode ``"F"``) with PIL's bicubic
    filter and clips to [0, 255] (``cleanfid.resize.make_resizer("PIL", False, "bicubic", (size, size))``). PIL
    resamples one axis, then the other, each a linear map, so the same resize is ``W_h @ x @ W_w^T`` with PIL's
    weights (:func:`_pil_bicubic_matrix`), computed here in float64 on the images' device: the same numbers up to
    PIL's float32 rounding (tests/test_fid.py compares with clean-fid's own function), without a PIL call per
    channel on the CPU (about 3.7 ms per 32x32 image there)."""
    h, w = images.shape[-2:]
    rows = _pil_bicubic_matrix(h, size).to(images.device)  # (size, H)
    cols = _pil_bicubic_matrix(w, size).to(images.device)  # (size, W)
    out = rows @ images.to(torch.float64) @ cols.T  # (B, C, size, size)
    return out.clamp(0, 255).to(torch.float32)


class CleanInceptionFeatures(InceptionFeatures):
    """The FID Inception-v3 pool3 features (2048-d) under clean-fid's protocol ("clean" mode).

    Images in [-1, 1] are clamped and mapped to [0, 255] without quantising them (clean-fid's path for a
    generator's output; reference images read from 8-bit data are integers there already), grey is repeated to
    RGB, every channel is resized to 299x299 by :func:`clean_resize`, and the network sees (x - 128) / 128 (the
    normalisation of clean-fid's Inception wrapper). The network and its weights are pytorch-fid's port of the
    TensorFlow Inception of 2015-12-05, the graph clean-fid's TorchScript file was exported from too (one file to
    fetch for both protocols; the two exports' agreement is not measured here: neither file is available offline).
    """

    name = "inception-clean"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1], C = 1 or 3 -> (B, 2048) float32 pool3 features."""
        _check_images(images)
        x = (images.to(torch.float32).clamp(-1.0, 1.0) + 1.0) * 127.5  # [0, 255]
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # (B, 3, H, W)
        x = clean_resize(x.to(next(self.net.parameters()).device), self.resolution)  # (B, 3, 299, 299)
        return pool3_features(self.net, (x - 128.0) / 128.0)


def inception_search_paths(weights: str | os.PathLike | None = None) -> list[Path]:
    """Where the Inception weights are looked for, in order."""
    if weights is not None:
        return [Path(weights).expanduser()]
    paths = []
    if os.environ.get(INCEPTION_ENV):
        paths.append(Path(os.environ[INCEPTION_ENV]).expanduser())
    paths.append(Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE)
    return paths


def resolve_inception_weights(weights: str | os.PathLike | None = None) -> Path:
    """The first existing Inception weights file, else :class:`InceptionWeightsMissingError`."""
    paths = inception_search_paths(weights)
    for path in paths:
        if path.is_file():
            return path
    hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    raise InceptionWeightsMissingError(
        f"the FID Inception weights {INCEPTION_FILE} were not found (looked at: "
        f"{', '.join(str(p) for p in paths)}). Download {INCEPTION_FILE} (about 91 MB, the TensorFlow "
        f"Inception of 2015-12-05 ported by pytorch-fid) from {INCEPTION_URL} and put it at {hub}, or "
        f"anywhere and set {INCEPTION_ENV}=/path/to/{INCEPTION_FILE}, or pass weights='/path/to/{INCEPTION_FILE}'. "
        "Offline, use get_extractor('digits') for MNIST-like data."
    )


def get_extractor(
    name: str, *, device: torch.device | str | None = None, weights: str | os.PathLike | None = None
) -> nn.Module:
    """Build a feature extractor by name, in eval mode, on ``device`` (default :func:`~course_lib.device.get_device`).

    Args:
        name: ``"digits"`` (offline, shipped weights), ``"inception"`` (FID Inception-v3, pytorch-fid's protocol)
            or ``"inception-clean"`` (the same network, clean-fid's protocol).
        device: where the extractor lives.
        weights: a weights file instead of the default; ``"random"`` for offline tests of the mechanics.

    Raises:
        ValueError: unknown ``name``.
        InceptionWeightsMissingError: an Inception extractor without its weights file (the message says what to
            fetch).
        course_lib.checkpoints.CheckpointError: an unusable digit-classifier weights file.
    """
    if name == "digits":
        extractor = DigitFeatures(weights=weights)
    elif name == "inception":
        extractor = InceptionFeatures(weights=weights)
    elif name == "inception-clean":
        extractor = CleanInceptionFeatures(weights=weights)
    else:
        raise ValueError(f"unknown feature extractor {name!r}; expected one of {', '.join(map(repr, EXTRACTORS))}")
    return extractor.to(get_device(device))
