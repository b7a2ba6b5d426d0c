"""Test-only: small fake data sets in the real on-disk formats, for running the full profile on a CPU.

:func:`build` writes, under one root (what ``COURSE_DATA`` points to), the files each real loader of
:mod:`course_lib.data.real` reads, in the layout and format its official download has:

* CIFAR-10: ``cifar-10-batches-py/data_batch_1..5``, ``test_batch`` and ``batches.meta``, Python pickles
  of ``{"data": (N, 3072) uint8 rows R|G|B, "labels": [...]}`` (the Toronto python version);
* SVHN: ``train_32x32.mat`` and ``test_32x32.mat`` (format 2: ``X`` uint8 (32, 32, 3, N), ``y`` (N, 1)
  with labels 1..10, 10 standing for the digit 0), written with ``scipy.io.savemat``;
* binarized MNIST: ``binarized_mnist/binarized_mnist_{train,valid,test}.amat``, text rows of 784 bits;
* CUB-200-2011: ``CUB_200_2011.tgz`` holding ``CUB_200_2011/images.txt``, ``train_test_split.txt``,
  ``image_class_labels.txt``, ``classes.txt`` and JPEGs of several sizes under ``images/<class>/``;
* the FID Inception weights: pytorch-fid's own Inception-v3 (``pytorch_fid.inception.fid_inception_v3``),
  randomly initialised with a fixed seed, its state dict saved under the official file name
  ``pt_inception-2015-12-05-6726825d.pth``, where ``COURSE_INCEPTION_WEIGHTS`` will point.
* the full profile's pretrained DDPM (03_diffusion): ``google/ddpm-cifar10-32/`` under the data root, a
  randomly initialised diffusers ``UNet2DModel`` with that model's config (narrower and shallower unless
  ``small=False``) saved by ``save_pretrained`` (``config.json``, ``diffusion_pytorch_model.safetensors``)
  and its ``scheduler_config.json`` (``DDPMScheduler.save_pretrained``) with the smoke profile's T.

The fake files cannot have the official checksums, which torchvision (CIFAR-10, SVHN) and course_lib
(the CUB archive) verify. The checks are not weakened: :func:`write_sitecustomize` writes a
``sitecustomize.py`` that, in the processes whose ``PYTHONPATH`` starts with its folder (the kernels of
the smoke test only), replaces the expected checksums by those of these files; every comparison stays
exact. :func:`environment` returns the variables a notebook kernel needs for all of this.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np

from course_lib.nets.pretrained_ddpm import DDPM_CIFAR10_CONFIG

CHECKSUMS_FILE = "checksums.json"
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
CUB_CLASSES = ("001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross", "004.Groove_billed_Ani")


def _md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _labels(n: int, classes: int, offset: int = 0) -> list[int]:
    return [(i + offset) % classes for i in range(n)]


def write_cifar10(root: Path, *, per_batch: int = 6, test: int = 20, seed: int = 0) -> dict[str, str]:
    """cifar-10-batches-py/ with 5 x ``per_batch`` training and ``test`` test images (by default two of each class:
    07_cgan's intra-FID estimates a covariance per class); returns {file: md5}."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {f"data_batch_{i}": per_batch for i in range(1, 6)} | {"test_batch": test}
    for k, (name, n) in enumerate(sizes.items()):
        rows = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)  # (N, 3072): R(1024) G(1024) B(1024)
        entry = {
            "batch_label": f"fake {name}",
            "labels": _labels(n, 10, k),
            "data": rows,
            "filenames": [f"fake_{name}_{i}.png" for i in range(n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
    meta = {
        "num_cases_per_batch": per_batch,
        "num_vis": 3072,
        "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    }
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return {name: _md5(folder / name) for name in [*sizes, "batches.meta"]}


def write_svhn(root: Path, *, train: int = 260, test: int = 12, seed: int = 1) -> dict[str, str]:
    """train_32x32.mat and test_32x32.mat (format 2); returns {file: md5}. The default 260 training images cover
    a cell that draws 256 of them (01_gan's critic-gradient cell, as for CUB)."""
    import scipy.io

    rng = np.random.default_rng(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", train), ("test", test)):
        x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)  # (H, W, C, N), the .mat layout
        y = np.array([[label + 1] for label in _labels(n, 10)], dtype=np.uint8)  # (N, 1) in 1..10 (10: digit 0)
        path = root / f"{split}_32x32.mat"
        scipy.io.savemat(path, {"X": x, "y": y})
        out[path.name] = _md5(path)
    return out


def write_binarized_mnist(root: Path, *, train: int = 40, val: int = 16, test: int = 16, seed: int = 2) -> None:
    """binarized_mnist/binarized_mnist_{train,valid,test}.amat: one digit per line, 784 space-separated bits."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "binarized_mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", train), ("valid", val), ("test", test)):
        bits = (rng.random((n, 784)) < 0.2).astype(np.uint8)  # (N, 784), sparse like ink on a page
        (folder / f"binarized_mnist_{name}.amat").write_text("\n".join(" ".join(map(str, row)) for row in bits) + "\n")


def write_cub(root: Path, *, per_class: int = 108, seed: int = 3) -> dict[str, str]:
    """CUB_200_2011.tgz with ``per_class`` small JPEGs of each of 4 classes (sizes vary; 3 in 5 train); {file: md5}.

    The default makes 260 training images: 01_gan's critic-gradient cell draws 256 of them.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    files: dict[str, bytes] = {}
    images, splits, labels = [], [], []
    image_id = 0
    for c, cls in enumerate(CUB_CLASSES, start=1):
        for j in range(per_class):
            image_id += 1
            h, w = int(rng.integers(36, 60)), int(rng.integers(36, 60))
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(buf, format="JPEG")
            rel = f"{cls}/{cls.split('.', 1)[1]}_{image_id:04d}.jpg"
            files[f"CUB_200_2011/images/{rel}"] = buf.getvalue()
            images.append(f"{image_id} {rel}\n")
            splits.append(f"{image_id} {1 if j < (3 * per_class + 4) // 5 else 0}\n")
            labels.append(f"{image_id} {c}\n")
    files["CUB_200_2011/images.txt"] = "".join(images).encode()
    files["CUB_200_2011/train_test_split.txt"] = "".join(splits).encode()
    files["CUB_200_2011/image_class_labels.txt"] = "".join(labels).encode()
    files["CUB_200_2011/classes.txt"] = "".join(f"{c} {cls}\n" for c, cls in enumerate(CUB_CLASSES, start=1)).encode()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / "CUB_200_2011.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return {archive.name: _md5(archive)}


def write_inception_weights(folder: Path, *, seed: int = 0) -> Path:
    """pytorch-fid's FID Inception-v3, randomly initialised (seed ``seed``), saved as its weights file."""
    import pytorch_fid.inception as pfi
    import torch

    torch.manual_seed(seed)

    def own_state(*args, **kwargs):  # instead of the download: the state of the model being built
        return sys._getframe(1).f_locals["inception"].state_dict()

    real = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = own_state
    try:
        model = pfi.fid_inception_v3()
    finally:
        pfi.load_state_dict_from_url = real
    path = Path(folder) / INCEPTION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


# google/ddpm-cifar10-32's config.json is course_lib.nets.pretrained_ddpm.DDPM_CIFAR10_CONFIG; its
# scheduler_config.json (256 bytes): Ho et al.'s linear betas, T = 1000, sigma^2 = beta_t for sampling
DDPM_CIFAR10_SCHEDULER = {
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "clip_sample": True,
    "num_train_timesteps": 1000,
    "trained_betas": None,
    "variance_type": "fixed_large",
}
# 0.5M parameters instead of 35.7M; four channels per GroupNorm group as in the real one (with one, the norm
# would remove the time embedding, a per-channel constant)
DDPM_SMALL = {"block_out_channels": [32, 32, 32, 32], "layers_per_block": 1, "norm_num_groups": 8}


def write_pretrained_ddpm(
    folder: Path,
    *,
    small: bool = True,
    timesteps: int = 1000,
    seed: int = 0,
    safe_serialization: bool = True,
    scheduler: dict | None = None,
    **config,
):
    """A random UNet2DModel with google/ddpm-cifar10-32's config (``DDPM_SMALL`` widths when ``small``, then
    ``config``) saved in ``folder`` as that model page has it, and a scheduler_config.json with its linear betas
    rescaled to ``timesteps`` as course_lib's ``linear_beta_schedule`` does (then ``scheduler``). Returns the model."""
    import torch
    from diffusers import DDPMScheduler, UNet2DModel

    torch.manual_seed(seed)
    unet = UNet2DModel(**(DDPM_CIFAR10_CONFIG | (DDPM_SMALL if small else {}) | config)).eval()
    unet.save_pretrained(str(folder), safe_serialization=safe_serialization)
    scale = 1000 / timesteps
    rescaled = {"num_train_timesteps": timesteps, "beta_start": 1e-4 * scale, "beta_end": 0.02 * scale}
    DDPMScheduler(**(DDPM_CIFAR10_SCHEDULER | rescaled | (scheduler or {}))).save_pretrained(str(folder))
    return unet


SITECUSTOMIZE = '''"""Test-only (tests/fake_datasets.py): the expected checksums of the fake data files in {checksums}."""
import json as _json

_sums = _json.load(open({checksums!r}))
from torchvision.datasets import CIFAR10 as _CIFAR10, SVHN as _SVHN  # noqa: E402

_CIFAR10.train_list = [[f"data_batch_{{i}}", _sums[f"data_batch_{{i}}"]] for i in range(1, 6)]
_CIFAR10.test_list = [["test_batch", _sums["test_batch"]]]
_CIFAR10.meta = dict(_CIFAR10.meta, md5=_sums["batches.meta"])
_SVHN.split_list = {{k: [v[0], v[1], _sums.get(v[1], v[2])] for k, v in _SVHN.split_list.items()}}
import course_lib.data.real as _real  # noqa: E402

_real.CUB_MD5 = _sums["CUB_200_2011.tgz"]
'''


def write_sitecustomize(folder: Path, checksums: dict[str, str]) -> Path:
    """A sitecustomize.py in ``folder`` that expects ``checksums`` of the fake files (see the module docstring)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKSUMS_FILE
    path.write_text(json.dumps(checksums, indent=1))
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE.format(checksums=str(path)))
    return folder


def build(root: Path) -> dict[str, str]:
    """Write every fake data set, the pretrained DDPM and the Inception weights under ``root``; return the
    kernel's environment.

    Layout: ``root/data`` (``COURSE_DATA``), ``root/site`` (the sitecustomize), ``root/weights``,
    ``root/fid`` (``COURSE_FID_CACHE``) and ``root/torch`` (``TORCH_HOME``, so no real cache is read).
    """
    root = Path(root)
    data = root / "data"
    checksums = write_cifar10(data) | write_svhn(data) | write_cub(data)
    write_binarized_mnist(data)
    from course_lib.assignments.diffusion.profile import FULL, SMOKE

    write_pretrained_ddpm(data / FULL.pretrained_hub, timesteps=SMOKE["timesteps"])
    weights = write_inception_weights(root / "weights")
    site = write_sitecustomize(root / "site", checksums)
    return {
        "COURSE_DATA": str(data),
        "COURSE_INCEPTION_WEIGHTS": str(weights),
        "COURSE_FID_CACHE": str(root / "fid"),
        "TORCH_HOME": str(root / "torch"),
        "FAKE_DATA_SITE": str(site),
    }
