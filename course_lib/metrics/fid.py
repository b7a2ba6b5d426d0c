"""Frechet Inception Distance: features -> (mu, sigma) -> Frechet distance, in float64.

FID (Heusel et al., 2017, Eq. 6) is the Frechet (2-Wasserstein) distance between two Gaussians
fitted to the features of two image sets:

    d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)).

The trace of the matrix square root is computed from eigenvalues (no ``scipy.linalg.sqrtm``):
Tr((sigma1 sigma2)^(1/2)) = Tr((sqrt(sigma1) sigma2 sqrt(sigma1))^(1/2)), the sum of the square roots
of the eigenvalues of a symmetric positive semi-definite matrix, which ``numpy.linalg.eigh`` gives
stably even when the covariances are singular (fewer images than features).

Images go in as (N, C, H, W) tensors in [-1, 1]; extractors come from :func:`get_extractor`
(``"digits"`` offline, ``"inception"`` or ``"inception-clean"`` with their weights file). Reference statistics of a data set
are cached as ``.npz`` files keyed by data set, split, extractor, layer, resolution, weights and
number of images.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .features import (
    DIGIT_WEIGHTS,
    EXTRACTORS,
    INCEPTION_ENV,
    INCEPTION_FILE,
    INCEPTION_URL,
    DigitFeatures,
    InceptionFeatures,
    InceptionWeightsMissingError,
    get_extractor,
    resolve_inception_weights,
)

__all__ = [
    "DIGIT_WEIGHTS",
    "EXTRACTORS",
    "INCEPTION_ENV",
    "INCEPTION_FILE",
    "INCEPTION_URL",
    "DigitFeatures",
    "InceptionFeatures",
    "InceptionWeightsMissingError",
    "cache_key",
    "compute_features",
    "compute_statistics",
    "default_cache_dir",
    "feature_statistics",
    "fid_score",
    "frechet_distance",
    "get_extractor",
    "reference_statistics",
    "resize_images",
    "resolve_inception_weights",
]

FID_CACHE_ENV = "COURSE_FID_CACHE"


def _as_float64(x, what: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or inf; check the features (did the generator diverge?)")
    return arr


def _sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix via eigh; negative round-off eigenvalues -> 0."""
    eigvals, eigvecs = np.linalg.eigh(sigma)
    return (eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))) @ eigvecs.T


def frechet_distance(
    mu1: np.ndarray | torch.Tensor,
    sigma1: np.ndarray | torch.Tensor,
    mu2: np.ndarray | torch.Tensor,
    sigma2: np.ndarray | torch.Tensor,
) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), computed in float64.

    Args:
        mu1, mu2: (F,) means (numpy arrays or torch tensors).
        sigma1, sigma2: (F, F) symmetric positive semi-definite covariances.

    Returns:
        ||mu1 - mu2||^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr((sigma1 sigma2)^(1/2)) as a Python float,
        clipped at 0 (a distance; only round-off can make it negative).

    Raises:
        ValueError: shapes that do not fit together, or NaN / inf entries.
    """
    mu1, mu2 = _as_float64(mu1, "mu1"), _as_float64(mu2, "mu2")
    sigma1, sigma2 = _as_float64(sigma1, "sigma1"), _as_float64(sigma2, "sigma2")
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"mu1 and mu2 must both have shape (F,), got {mu1.shape} and {mu2.shape}")
    F_ = mu1.shape[0]
    if sigma1.shape != (F_, F_) or sigma2.shape != (F_, F_):
        raise ValueError(
            f"sigma1 and sigma2 must have shape ({F_}, {F_}) to match the means, got {sigma1.shape} and {sigma2.shape}"
        )
    # symmetrise: covariances are symmetric; this removes round-off asymmetry before eigh
    sigma1, sigma2 = (sigma1 + sigma1.T) / 2, (sigma2 + sigma2.T) / 2
    sqrt1 = _sqrt_psd(sigma1)
    middle = sqrt1 @ sigma2 @ sqrt1  # (F, F), symmetric PSD, similar to sigma1 sigma2
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    # Tr((sigma1 sigma2)^(1/2)) = sum_i sqrt(lambda_i(sqrt(sigma1) sigma2 sqrt(sigma1)))
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = mu1 - mu2
    # Heusel et al. (2017), Eq. 6
    d2 = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean
    return float(max(d2, 0.0))


def feature_statistics(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of features, in float64 (``np.cov`` convention, as pytorch-fid).

    Args:
        features: (N, F) array or tensor, N >= 2.

    Returns:
        ``(mu, sigma)``: (F,) and (F, F) float64.
    """
    x = _as_float64(features, "features")
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"features must have shape (N, F) with N >= 2, got {x.shape}")
    mu = x.mean(axis=0)  # (F,)
    centred = x - mu  # (N, F)
    sigma = centred.T @ centred / (x.shape[0] - 1)  # (F, F), unbiased
    return mu, sigma


def _device_of(extractor: nn.Module, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    param = next(extractor.parameters(), None)
    if param is not None:
        return param.device
    from course_lib.device import get_device

    return get_device()


@torch.no_grad()
def compute_features(
    images: torch.Tensor, extractor: nn.Module, *, batch_size: int = 256, device: torch.device | str | None = None
) -> np.ndarray:
    """Features of a set of images, batch by batch: (N, C, H, W) in [-1, 1] -> (N, F) float64."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a tensor of shape (N, C, H, W) in [-1, 1], got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(
            f"images must have shape (N, C, H, W) in [-1, 1], got shape {tuple(images.shape)}; "
            "add a channel axis with images.unsqueeze(1) for (N, H, W) grey images"
        )
    if images.dtype == torch.uint8:
        images = images.to(torch.float32) / 127.5 - 1.0  # uint8 [0, 255] -> [-1, 1]
    if images.shape[0] < 2:
        raise ValueError(f"need at least 2 images to estimate a covariance, got {images.shape[0]}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    lo, hi = float(images.min()), float(images.max())
    if lo < -2.0 or hi > 2.0:
        raise ValueError(
            f"images must be in [-1, 1] (the model range), got values in [{lo:.3g}, {hi:.3g}]; "
            "convert with course_lib.data.from_uint8 or to_model_range"
        )
    device = _device_of(extractor, device)
    extractor = extractor.to(device).eval()
    feats = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size].to(device)  # (B, C, H, W)
        feats.append(extractor(batch).to(torch.float64).cpu())  # (B, F)
    return torch.cat(feats).numpy()  # (N, F)


def compute_statistics(
    images: torch.Tensor, extractor: nn.Module, *, batch_size: int = 256, device: torch.device | str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, sigma)`` of the extractor's features of ``images`` ((N, C, H, W) in [-1, 1], N >= 2).

    Runs under ``torch.no_grad`` with the extractor in eval mode, ``batch_size`` images at a time, on
    ``device`` (default: where the extractor is).
    """
    return feature_statistics(compute_features(images, extractor, batch_size=batch_size, device=device))


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size), bilinear with antialiasing (values stay in range)."""
    if images.shape[-2:] == (size, size):
        return images
    return torch.nn.functional.interpolate(
        images, size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )


def default_cache_dir() -> Path:
    """``$COURSE_FID_CACHE``, else ``~/.cache/dgm-course/fid``."""
    env = os.environ.get(FID_CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dgm-course" / "fid"


def cache_key(
    dataset: str, split: str, extractor: nn.Module, max_images: int | None = None, image_size: int | None = None
) -> str:
    """File-name-safe key: data set, split, extractor name, layer, resolution, weights, image count,
    and the size the images were resized to before extraction (``native`` when they were not)."""
    parts = [
        dataset,
        split,
        extractor.name,
        extractor.layer,
        f"r{extractor.resolution}",
        f"w{getattr(extractor, 'weights_id', 'unknown')}",
        f"n{max_images if max_images is not None else 'all'}",
        f"s{image_size if image_size is not None else 'native'}",
    ]
    return "_".join(re.sub(r"[^A-Za-z0-9.\-]+", "-", str(p)) for p in parts)


def reference_statistics(
    dataset: str,
    split: str,
    extractor: nn.Module,
    *,
    cache_dir: str | os.PathLike | None = None,
    max_images: int | None = None,
    root: str | os.PathLike | None = None,
    image_size: int | None = None,
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, sigma)`` of a data set split, computed once and cached as ``<cache_dir>/<key>.npz``.

    Args:
        dataset, split: as for :func:`course_lib.data.load`.
        extractor: from :func:`get_extractor`.
        cache_dir: default :func:`default_cache_dir`.
        max_images: use a fixed random subset (seed 0) of ``max_images`` images of the split
            (default all). Not the first ones: some splits are sorted by class.
        root: data folder passed to :func:`course_lib.data.load`.
        image_size: resize the data set's images to ``image_size`` x ``image_size`` (bilinear,
            antialiased) before extracting features, to compare with samples generated at that size
            (e.g. 16x16 diffusion samples against 28x28 MNIST); default: native size.

    Returns:
        (F,) and (F, F) float64.
    """
    from course_lib.data import load

    if max_images is not None and (not isinstance(max_images, int) or max_images < 2):
        raise ValueError(f"max_images must be an int >= 2 or None, got {max_images!r}")
    if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
        raise ValueError(f"image_size must be a positive int or None, got {image_size!r}")
    key = cache_key(dataset, split, extractor, max_images, image_size)
    path = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = path / f"{key}.npz"
    if path.exists():
        try:
            with np.load(path) as blob:
                if str(blob["key"]) == key:
                    return blob["mu"], blob["sigma"]
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache file: recompute and overwrite it
    images = load(dataset, split, root=root).images
    if max_images is not None and max_images < images.shape[0]:
        keep = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(0))[:max_images]
        images = images[keep.sort().values]  # (n, C, H, W)
    if image_size is not None:
        images = resize_images(images, image_size)  # (n, C, s, s)
    mu, sigma = compute_statistics(images, extractor, batch_size=batch_size, device=device)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")  # per process: parallel runs never share it
    meta = {
        "dataset": dataset,
        "split": split,
        "extractor": extractor.name,
        "layer": extractor.layer,
        "resolution": extractor.resolution,
        "num_images": int(images.shape[0]),
        "image_size": image_size,
    }
    np.savez(tmp, mu=mu, sigma=sigma, key=np.array(key), meta=np.array(json.dumps(meta)))
    os.replace(tmp, path)
    return mu, sigma


def fid_score(
    images: torch.Tensor,
    extractor: nn.Module,
    reference: tuple,
    *,
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> float:
    """FID of ``images`` ((N, C, H, W) in [-1, 1]) against ``reference = (mu, sigma)``.

    ``reference`` usually comes from :func:`reference_statistics` with the same extractor.
    """
    if not isinstance(reference, (tuple, list)) or len(reference) != 2:
        raise ValueError(
            "reference must be a (mu, sigma) pair, e.g. from reference_statistics(dataset, split, extractor)"
        )
    mu, sigma = compute_statistics(images, extractor, batch_size=batch_size, device=device)
    return frechet_distance(mu, sigma, reference[0], reference[1])
