"""Each real loader runs its real code path on tiny files written here in the official on-disk format."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib import data
from course_lib.data import real


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def _expected(uint8_nchw):
    return torch.from_numpy(np.array(uint8_nchw)).float() / 127.5 - 1.0


def test_cifar10_reads_python_pickle_batches(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10

    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        pixels = rng.integers(0, 256, size=(3, 3072), dtype=np.uint8)  # rows: R(1024) G(1024) B(1024)
        labels = rng.integers(0, 10, size=3).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"data": pixels, "labels": labels}, f)
        batches[name] = (pixels, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    # the tiny files have their own checksums; everything else is torchvision's code
    monkeypatch.setattr(
        CIFAR10, "train_list", [[f"data_batch_{i}", _md5(folder / f"data_batch_{i}")] for i in range(1, 6)]
    )
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", _md5(folder / "test_batch")]])
    monkeypatch.setattr(
        CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names", "md5": _md5(folder / "batches.meta")}
    )

    train = data.load("cifar10", "train", root=tmp_path)
    test = data.load("cifar10", "test", root=tmp_path)
    assert train.images.shape == (15, 3, 32, 32) and test.images.shape == (3, 3, 32, 32)
    pixels, labels = batches["test_batch"]
    expected = _expected(pixels.reshape(3, 3, 32, 32))  # CIFAR rows are channel-major
    torch.testing.assert_close(test.images, expected)
    assert test.labels.tolist() == labels
    assert train.images.min() >= -1 and train.images.max() <= 1
    # "val" is the test split (test_batch), as the anchor of 02_vae evaluates (CMU 16-824's VAE homework)
    val = data.load("cifar10", "val", root=tmp_path)
    torch.testing.assert_close(val.images, expected)
    assert val.labels.tolist() == labels and val.split == "val"


def test_svhn_reads_mat_files(tmp_path, monkeypatch):
    import scipy.io
    from torchvision.datasets import SVHN

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(32, 32, 3, 4), dtype=np.uint8)  # the .mat layout: (H, W, C, N)
    y = np.array([[1], [10], [5], [10]], dtype=np.uint8)  # SVHN writes digit 0 as 10
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": x, "y": y})
    split_list = dict(SVHN.split_list)
    split_list["test"] = [split_list["test"][0], "test_32x32.mat", _md5(tmp_path / "test_32x32.mat")]
    monkeypatch.setattr(SVHN, "split_list", split_list)

    ds = data.load("svhn", "test", root=tmp_path)
    assert ds.images.shape == (4, 3, 32, 32)
    assert ds.labels.tolist() == [1, 0, 5, 0]
    torch.testing.assert_close(ds.images, _expected(np.transpose(x, (3, 2, 0, 1))))


def _write_idx(path, array: np.ndarray, magic: int):
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_reads_idx_files(tmp_path):
    rng = np.random.default_rng(2)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = {}
    for prefix, n in (("train", 5), ("t10k", 3)):
        images[prefix] = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images[prefix], 2051)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, 2049)

    ds = data.load("mnist", "test", root=tmp_path)
    assert ds.images.shape == (3, 1, 28, 28)
    torch.testing.assert_close(ds.images, _expected(images["t10k"][:, None]))
    assert ds.labels.tolist() == [0, 1, 2]


def test_binarized_mnist_reads_amat_files(tmp_path):
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2, size=(4, 784))
    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    (folder / "binarized_mnist_valid.amat").write_text("\n".join(" ".join(map(str, row)) for row in bits) + "\n")

    ds = data.load("binarized_mnist", "val", root=tmp_path)
    assert ds.images.shape == (4, 1, 28, 28)
    torch.testing.assert_close(ds.images, torch.from_numpy(bits).float().view(4, 1, 28, 28))
    # the parsed bits are cached next to the text file and read back identically
    assert (folder / "binarized_mnist_valid.npy").exists()
    torch.testing.assert_close(data.load("binarized_mnist", "val", root=tmp_path).images, ds.images)


def _tiny_cub(root, sizes=((40, 30), (30, 50), (64, 64))):
    from PIL import Image

    rng = np.random.default_rng(4)
    files, pictures = {}, []
    for i, (w, h) in enumerate(sizes, start=1):
        img = Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))
        buf = io.BytesIO()
        img.save(buf, format="JPEG")
        files[f"CUB_200_2011/images/00{i}.Bird/bird_{i}.jpg"] = buf.getvalue()
        pictures.append(img)
    files["CUB_200_2011/images.txt"] = "".join(f"{i} 00{i}.Bird/bird_{i}.jpg\n" for i in range(1, 4)).encode()
    files["CUB_200_2011/train_test_split.txt"] = b"1 1\n2 0\n3 1\n"
    files["CUB_200_2011/image_class_labels.txt"] = b"1 1\n2 2\n3 3\n"
    archive = root / real.CUB_ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return archive, pictures


def test_cub32_reads_the_official_archive_layout(tmp_path, monkeypatch):
    from PIL import Image

    archive, pictures = _tiny_cub(tmp_path)
    monkeypatch.setattr(real, "CUB_MD5", _md5(archive))
    train = data.load("cub32", "train", root=tmp_path)
    test = data.load("cub32", "test", root=tmp_path)
    assert train.images.shape == (2, 3, 32, 32) and test.images.shape == (1, 3, 32, 32)
    assert train.labels.tolist() == [0, 2] and test.labels.tolist() == [1]
    # image 2 (30x50): centre square crop then bicubic resize, computed here with PIL directly
    decoded = Image.open(io.BytesIO(_jpeg(pictures[1]))).convert("RGB")
    expected = np.asarray(decoded.crop((0, 10, 30, 40)).resize((32, 32), Image.BICUBIC), dtype=np.uint8)
    torch.testing.assert_close(test.images[0], _expected(expected.transpose(2, 0, 1)))
    assert (tmp_path / "cub32" / "train.pt").exists()  # cached as uint8


def _jpeg(img):
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    return buf.getvalue()


def test_cub32_rejects_an_archive_with_the_wrong_checksum(tmp_path):
    _tiny_cub(tmp_path)
    with pytest.raises(data.DatasetMissingError, match=r"MD5 .* not the official 97eceeb1"):
        data.load("cub32", "train", root=tmp_path)


@pytest.mark.parametrize(
    "name,split,file_hint",
    [
        ("cifar10", "train", "cifar-10-batches-py"),
        ("svhn", "train", "train_32x32.mat"),
        ("mnist", "train", "MNIST/raw"),
        ("binarized_mnist", "test", "binarized_mnist_test.amat"),
        ("cub32", "train", "CUB_200_2011.tgz"),
    ],
)
def test_missing_real_data_set_says_which_file_where_and_how(tmp_path, name, split, file_hint):
    with pytest.raises(data.DatasetMissingError) as info:
        data.load(name, split, root=tmp_path)
    msg = str(info.value)
    assert file_hint in msg and str(tmp_path) in msg
    assert "Fetch" in msg and "COURSE_DATA" in msg and "mnist5k" in msg


def test_the_cifar10_message_whole():
    """The whole message, with the checksum torchvision itself verifies (the independent source)."""
    from torchvision.datasets import CIFAR10

    root = Path("/nowhere/data")
    with pytest.raises(data.DatasetMissingError) as info:
        data.load("cifar10", "test", root=root)
    assert str(info.value).split(" (cause:")[0] == (
        "data set 'cifar10' is not available: expected cifar-10-batches-py/ (data_batch_1..5, test_batch) under "
        f"/nowhere/data. Fetch cifar-10-python.tar.gz (163 MiB, MD5 {CIFAR10.tgz_md5}) from {CIFAR10.url} and "
        "extract it in /nowhere/data, or pass download=True on a machine with internet access. Then call "
        "load('cifar10', ..., root='/nowhere/data') or set COURSE_DATA to that folder. Offline alternatives that "
        "need no files: 'mnist5k', 'shapes', 'synthetic' (COURSE_PROFILE=fast uses them)."
    )


def test_fetch_checksums_are_torchvisions():
    from torchvision.datasets import MNIST, SVHN

    from course_lib.data.real import FETCH

    assert {f: m for f, _, m, _ in FETCH["mnist"]} == dict(MNIST.resources)
    assert {f: m for f, _, m, _ in FETCH["svhn"]} == {v[1]: v[2] for k, v in SVHN.split_list.items() if k != "extra"}


def test_failed_download_is_reported_with_the_same_instructions(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(tv_utils, "download_url", offline)
    with pytest.raises(data.DatasetMissingError, match="network is unreachable") as info:
        data.load("binarized_mnist", "train", root=tmp_path, download=True)
    assert "binarized_mnist_train.amat" in str(info.value)


# the tail every missing-data message ends with, after "Then call ..."
def _tail(name, root="/nowhere/data"):
    return (
        f"Then call load({name!r}, ..., root={root!r}) or set COURSE_DATA to that folder. Offline alternatives that "
        "need no files: 'mnist5k', 'shapes', 'synthetic' (COURSE_PROFILE=fast uses them)."
    )


def _message(name, split):
    with pytest.raises(data.DatasetMissingError) as info:
        data.load(name, split, root=Path("/nowhere/data"))
    return str(info.value).split(" (cause:")[0]


def test_the_svhn_message_whole():
    """The checksum and URL are the ones torchvision itself verifies and downloads (the independent source)."""
    from torchvision.datasets import SVHN

    url, file, md5 = SVHN.split_list["test"]
    assert _message("svhn", "test") == (
        f"data set 'svhn' is not available: expected {file} under /nowhere/data. Fetch {file} (62 MiB, MD5 {md5}) "
        f"from {url} (format 2) into /nowhere/data, or pass download=True on a machine with internet access. "
        + _tail("svhn")
    )


def test_the_mnist_message_whole():
    from torchvision.datasets import MNIST

    files = "; ".join(
        f"{f} ({size}, MD5 {md5}) from {MNIST.mirrors[0]}{f}"
        for (f, md5), size in zip(MNIST.resources, ["9.5 MiB", "29 KiB", "1.6 MiB", "4.5 KiB"])
    )
    assert _message("mnist", "test") == (
        "data set 'mnist' is not available: expected MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte under "
        f"/nowhere/data. Fetch {files} into /nowhere/data/MNIST/raw (torchvision unpacks them), or pass "
        "download=True on a machine with internet access. " + _tail("mnist")
    )


def test_the_binarized_mnist_message_whole():
    assert _message("binarized_mnist", "val") == (
        "data set 'binarized_mnist' is not available: expected binarized_mnist/binarized_mnist_valid.amat under "
        "/nowhere/data. Fetch binarized_mnist_valid.amat (15 MiB, no published checksum) from "
        "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_valid.amat "
        "(Larochelle & Murray's binarization) into /nowhere/data/binarized_mnist, or pass download=True on a machine "
        "with internet access. " + _tail("binarized_mnist")
    )


def test_the_cub32_message_whole():
    # Caltech's published MD5 of CUB_200_2011.tgz (data.caltech.edu record 65de6-vp158)
    assert _message("cub32", "train") == (
        "data set 'cub32' is not available: expected CUB_200_2011.tgz under /nowhere/data. Fetch CUB_200_2011.tgz "
        "(1.1 GB, MD5 97eceeb196236b17998738112f37df78) from "
        "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz (Caltech-UCSD Birds-200-2011) into "
        "/nowhere/data, or pass download=True on a machine with internet access. " + _tail("cub32")
    )


def test_the_cifar10_val_message_is_the_test_splits():
    assert _message("cifar10", "val") == _message("cifar10", "test")
