"""Real data sets, read from their official on-disk formats (torchvision's loaders where it has one)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import torch

from . import Dataset, DatasetMissingError, register
from .ranges import from_uint8

CUB_ARCHIVE = "CUB_200_2011.tgz"
CUB_MD5 = "97eceeb196236b17998738112f37df78"  # the official archive's checksum
CUB_URL = "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz"
BINARIZED_MNIST_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
_BINARIZED_FILES = {
    "train": "binarized_mnist_train.amat",
    "val": "binarized_mnist_valid.amat",
    "test": "binarized_mnist_test.amat",
}


# What to fetch for each real data set: (file, approximate size, MD5 or '', where from). The checksums are
# the ones torchvision verifies (CUB-200-2011: Caltech's); the .amat files of binarized MNIST have none.
FETCH = {
    "cifar10": [
        (
            "cifar-10-python.tar.gz",
            "163 MiB",
            "c58f30108f718f92721af3b95e74349a",
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        )
    ],
    "svhn": [
        (
            "train_32x32.mat",
            "174 MiB",
            "e26dedcc434d2e4c54c9b2d4a06d8373",
            "http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
        ),
        (
            "test_32x32.mat",
            "62 MiB",
            "eb5a983be6a315427106f1b164d9cef3",
            "http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
        ),
    ],
    "mnist": [
        (
            "train-images-idx3-ubyte.gz",
            "9.5 MiB",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
        (
            "train-labels-idx1-ubyte.gz",
            "29 KiB",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
        (
            "t10k-images-idx3-ubyte.gz",
            "1.6 MiB",
            "9fb629c4189551a2d022fa330f9573f3",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            "4.5 KiB",
            "ec29112dd5afa0611ce80d1b7f02629c",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
    ],
    "binarized_mnist": [
        (f, "75 MiB" if s == "train" else "15 MiB", "", BINARIZED_MNIST_URL + f) for s, f in _BINARIZED_FILES.items()
    ],
    "cub32": [(CUB_ARCHIVE, "1.1 GB", CUB_MD5, CUB_URL)],
}


def fetch_instructions(name: str, files: list[str] | None = None) -> str:
    """'Fetch <file> (<size>, MD5 <md5>) from <url>' for each file ``name`` needs (all, or ``files``)."""
    parts = []
    for file, size, md5, url in FETCH[name]:
        if files is not None and file not in files:
            continue
        checksum = f", MD5 {md5}" if md5 else ", no published checksum"
        source = url if url.endswith(file) else url + file
        parts.append(f"{file} ({size}{checksum}) from {source}")
    return "Fetch " + "; ".join(parts)


def _missing(name: str, files: str, root: Path, how: str, cause: BaseException | None = None) -> DatasetMissingError:
    msg = (
        f"data set {name!r} is not available: expected {files} under {root}. {how} "
        f"Then call load({name!r}, ..., root={str(root)!r}) or set COURSE_DATA to that folder. "
        "Offline alternatives that need no files: 'mnist5k', 'shapes', 'synthetic' (COURSE_PROFILE=fast uses them)."
    )
    if cause is not None:
        msg += f" (cause: {str(cause).strip().splitlines()[0][:200] if str(cause).strip() else type(cause).__name__})"
    return DatasetMissingError(msg)


def _torchvision(name, factory, files, root, how, download):
    try:
        return factory(download)
    except DatasetMissingError:
        raise
    except Exception as exc:  # torchvision raises RuntimeError when absent, URLError etc. when offline
        raise _missing(name, files, root, how, exc) from exc


def _to_dataset(name, split, uint8_nhwc: np.ndarray, labels) -> Dataset:
    x = torch.from_numpy(np.ascontiguousarray(uint8_nhwc)).permute(0, 3, 1, 2)  # (N, C, H, W)
    return Dataset(from_uint8(x), torch.as_tensor(np.asarray(labels), dtype=torch.int64), name, split)


@register("cifar10", splits=("train", "val", "test"), real=True)
def _cifar10(split, root, download):
    """CIFAR-10's 50k training and 10k test images; ``"val"`` is the test split (test_batch).

    CIFAR-10 has no official validation split, and the anchor that validates on it (CMU 16-824's VAE
    homework, whose reference losses 02_vae's thresholds are) evaluates on the test split, so ``"val"``
    names those same 10,000 images: nothing is held out of training that the anchor trains on.
    """
    from torchvision.datasets import CIFAR10

    ds = _torchvision(
        "cifar10",
        lambda d: CIFAR10(str(root), train=split == "train", download=d),
        "cifar-10-batches-py/ (data_batch_1..5, test_batch)",
        root,
        f"{fetch_instructions('cifar10')} and extract it in {root}, or pass download=True on a machine with "
        "internet access.",
        download,
    )
    return _to_dataset("cifar10", split, ds.data, ds.targets)  # data: (N, 32, 32, 3) uint8


@register("svhn", splits=("train", "test"), real=True)
def _svhn(split, root, download):
    from torchvision.datasets import SVHN

    ds = _torchvision(
        "svhn",
        lambda d: SVHN(str(root), split=split, download=d),
        f"{split}_32x32.mat",
        root,
        f"{fetch_instructions('svhn', [f'{split}_32x32.mat'])} (format 2) into {root}, or pass download=True on a "
        "machine with internet access.",
        download,
    )
    return _to_dataset("svhn", split, ds.data.transpose(0, 2, 3, 1), ds.labels)  # data: (N, 3, 32, 32)


@register("mnist", splits=("train", "test"), real=True)
def _mnist(split, root, download):
    from torchvision.datasets import MNIST

    ds = _torchvision(
        "mnist",
        lambda d: MNIST(str(root), train=split == "train", download=d),
        "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte",
        root,
        f"{fetch_instructions('mnist')} into {root / 'MNIST' / 'raw'} (torchvision unpacks them), or pass "
        "download=True on a machine with internet access.",
        download,
    )
    return _to_dataset("mnist", split, ds.data.numpy()[..., None], ds.targets.numpy())


@register("binarized_mnist", splits=("train", "val", "test"), real=True)
def _binarized_mnist(split, root, download):
    """The fixed binarization of Larochelle & Murray (2011): 50k/10k/10k digits as .amat text files."""
    fname = _BINARIZED_FILES[split]
    path = root / "binarized_mnist" / fname
    cache = path.with_suffix(".npy")
    if cache.exists():
        bits = np.load(cache)
    else:
        if not path.exists():
            how = (
                f"{fetch_instructions('binarized_mnist', [fname])} (Larochelle & Murray's binarization) into "
                f"{path.parent}, or pass download=True on a machine with internet access."
            )
            if not download:
                raise _missing("binarized_mnist", f"binarized_mnist/{fname}", root, how)
            try:
                from torchvision.datasets.utils import download_url

                download_url(BINARIZED_MNIST_URL + fname, str(path.parent), fname)
            except Exception as exc:
                raise _missing("binarized_mnist", f"binarized_mnist/{fname}", root, how, exc) from exc
        bits = _read_amat(path)
        np.save(cache, bits)
    images = torch.from_numpy(bits).to(torch.float32).view(-1, 1, 28, 28)  # (N, 1, 28, 28) in {0, 1}
    labels = torch.full((images.shape[0],), -1, dtype=torch.int64)  # the .amat files carry no labels
    return Dataset(images, labels, "binarized_mnist", split)


def _read_amat(path: Path) -> np.ndarray:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    bits = np.asarray(rows, dtype=np.uint8)
    if bits.ndim != 2 or bits.shape[1] != 784 or bits.max(initial=0) > 1:
        raise DatasetMissingError(
            f"{path} is not a binarized MNIST .amat file (expected rows of 784 zeros and ones); "
            "delete it and download it again"
        )
    return bits


@register("cub32", splits=("train", "test"), real=True)
def _cub32(split, root, download):
    """CUB-200-2011 birds, official train/test split, centre-cropped to a square, resized to 32x32 (bicubic)."""
    cache = root / "cub32" / f"{split}.pt"
    if not cache.exists():
        _build_cub32(root, download)
    blob = torch.load(cache, weights_only=True)
    return Dataset(from_uint8(blob["images"]), blob["labels"], "cub32", split)


def _build_cub32(root: Path, download: bool, size: int = 32) -> None:
    from PIL import Image

    archive = root / CUB_ARCHIVE
    how = (
        f"{fetch_instructions('cub32')} (Caltech-UCSD Birds-200-2011) into {root}, or pass download=True on a "
        "machine with internet access."
    )
    if not archive.exists():
        if not download:
            raise _missing("cub32", CUB_ARCHIVE, root, how)
        try:
            from torchvision.datasets.utils import download_url

            download_url(CUB_URL, str(root), CUB_ARCHIVE, CUB_MD5)
        except Exception as exc:
            raise _missing("cub32", CUB_ARCHIVE, root, how, exc) from exc
    digest = _md5(archive)
    if digest != CUB_MD5:
        raise DatasetMissingError(
            f"{archive} has MD5 {digest}, not the official {CUB_MD5}: the download is incomplete or another "
            f"file. Delete it and download it again. {how}"
        )
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}

        def text(name: str) -> list[str]:
            return tar.extractfile(members[f"CUB_200_2011/{name}"]).read().decode().split("\n")

        paths = dict(line.split() for line in text("images.txt") if line.strip())
        is_train = dict(line.split() for line in text("train_test_split.txt") if line.strip())
        label = dict(line.split() for line in text("image_class_labels.txt") if line.strip())
        out = {"train": ([], []), "test": ([], [])}
        for image_id in sorted(paths, key=int):
            img = Image.open(io.BytesIO(tar.extractfile(members[f"CUB_200_2011/images/{paths[image_id]}"]).read()))
            img = img.convert("RGB")
            w, h = img.size
            s = min(w, h)
            img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
            img = img.resize((size, size), Image.BICUBIC)
            part = "train" if is_train[image_id] == "1" else "test"
            out[part][0].append(np.asarray(img, dtype=np.uint8))
            out[part][1].append(int(label[image_id]) - 1)  # classes 1..200 -> 0..199
    (root / "cub32").mkdir(parents=True, exist_ok=True)
    for part, (imgs, labels) in out.items():
        images = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()  # (N, 3, 32, 32) uint8
        torch.save({"images": images, "labels": torch.tensor(labels, dtype=torch.int64)}, root / "cub32" / f"{part}.pt")


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            h.update(block)
    return h.hexdigest()
