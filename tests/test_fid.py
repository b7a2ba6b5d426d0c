"""FID (course_lib.metrics.fid): the Frechet distance against independent implementations, the
statistics against numpy, the shipped digit extractor against its labels, the reference-statistics
cache, the Inception path against pytorch-fid's own network, and the error messages."""

from __future__ import annotations

import re
import warnings
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.checkpoints import read_meta
from course_lib.data import load
from course_lib.metrics import features as features_mod
from course_lib.metrics.fid import (
    DIGIT_WEIGHTS,
    INCEPTION_ENV,
    INCEPTION_FILE,
    InceptionWeightsMissingError,
    compute_statistics,
    feature_statistics,
    fid_score,
    frechet_distance,
    get_extractor,
    reference_statistics,
)
from course_lib.nets.digit_classifier import accuracy

DIGIT_ACCURACY_FLOOR = 0.97  # the committed weights measure 0.975 on mnist5k val (see the sidecar)


def _random_stats(rng, F_, N, scale=1.0, shift=0.0):
    A = rng.normal(size=(F_, F_)) / np.sqrt(F_)
    x = scale * rng.normal(size=(N, F_)) @ A + shift  # (N, F)
    return feature_statistics(x)


def _pytorch_fid(mu1, s1, mu2, s2):
    from pytorch_fid.fid_score import calculate_frechet_distance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's sqrtm warns on singular matrices
        return float(calculate_frechet_distance(mu1, s1, mu2, s2))


# ----------------------------------------------------------------------------- Frechet distance


@pytest.mark.parametrize("F_, N", [(2, 50), (16, 200), (64, 500)])
def test_frechet_matches_pytorch_fid_full_rank(F_, N):
    rng = np.random.default_rng(F_)
    a, b = _random_stats(rng, F_, N), _random_stats(rng, F_, N, scale=0.5, shift=0.3)
    ours = frechet_distance(*a, *b)
    assert ours == pytest.approx(_pytorch_fid(*a, *b), rel=1e-10)


@pytest.mark.parametrize("F_, N", [(64, 32), (128, 40), (256, 100)])
def test_frechet_matches_pytorch_fid_rank_deficient(F_, N):
    # N < F: both covariances are singular (rank N - 1). The zero eigenvalues come back as
    # round-off of order 1e-16, whose square roots (1e-8 each) bound the agreement at about 1e-8.
    rng = np.random.default_rng(F_)
    a, b = _random_stats(rng, F_, N), _random_stats(rng, F_, N, scale=0.5, shift=0.3)
    ours = frechet_distance(*a, *b)
    assert ours == pytest.approx(_pytorch_fid(*a, *b), rel=1e-6)


def test_frechet_matches_torchmetrics_in_float64():
    from torchmetrics.image.fid import _compute_fid

    rng = np.random.default_rng(1)
    a, b = _random_stats(rng, 32, 300), _random_stats(rng, 32, 300, scale=2.0, shift=-1.0)
    ref = _compute_fid(*(torch.from_numpy(v) for v in (*a, *b))).item()
    assert frechet_distance(*a, *b) == pytest.approx(ref, rel=1e-10)


def test_frechet_closed_form_diagonal():
    # commuting (diagonal) covariances: d^2 = ||mu1 - mu2||^2 + sum_i (sqrt(s1_i) - sqrt(s2_i))^2
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.normal(size=10), rng.normal(size=10)
    v1, v2 = rng.uniform(0.1, 3.0, size=10), rng.uniform(0.0, 3.0, size=10)
    v2[:3] = 0.0  # singular second covariance
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-12)


def test_frechet_closed_form_rotated():
    # rotating both Gaussians by the same orthogonal Q leaves the distance unchanged
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    v1, v2 = rng.uniform(0.1, 2.0, size=8), rng.uniform(0.1, 2.0, size=8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    got = frechet_distance(Q @ mu1, Q @ np.diag(v1) @ Q.T, Q @ mu2, Q @ np.diag(v2) @ Q.T)
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("F_, N", [(16, 200), (64, 32)])
def test_frechet_zero_for_identical_sets(F_, N):
    rng = np.random.default_rng(4)
    mu, sigma = _random_stats(rng, F_, N)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9 * np.trace(sigma))


def test_frechet_symmetric_and_non_negative():
    rng = np.random.default_rng(5)
    for F_, N in [(4, 100), (32, 20)]:
        a, b = _random_stats(rng, F_, N), _random_stats(rng, F_, N, scale=1.5)
        d_ab, d_ba = frechet_distance(*a, *b), frechet_distance(*b, *a)
        assert d_ab > 0 and d_ba > 0
        assert d_ab == pytest.approx(d_ba, rel=1e-7)


def test_frechet_accepts_torch_float32_and_returns_float():
    rng = np.random.default_rng(6)
    a, b = _random_stats(rng, 8, 100), _random_stats(rng, 8, 100, shift=1.0)
    as_torch = [torch.from_numpy(v).float() for v in (*a, *b)]
    got = frechet_distance(*as_torch)
    assert isinstance(got, float)
    # float32 inputs are promoted to float64; the only difference is their own rounding
    assert got == pytest.approx(frechet_distance(*a, *b), rel=1e-5)


def test_frechet_rejects_mismatched_shapes_and_nan():
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(mu, sigma, np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(mu, np.eye(2), mu, sigma)
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(mu, sigma * np.nan, mu, sigma)


def test_feature_statistics_match_numpy():
    x = np.random.default_rng(7).normal(size=(50, 6)).astype(np.float32)
    mu, sigma = feature_statistics(torch.from_numpy(x))
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, np.mean(x.astype(np.float64), axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match=r"\(N, F\)"):
        feature_statistics(np.zeros((1, 6)))


# ----------------------------------------------------------------------------- digit extractor


@pytest.fixture(scope="module")
def digits():
    return get_extractor("digits")


def test_digit_extractor_attributes_and_shapes(digits):
    assert (digits.name, digits.layer, digits.resolution, digits.num_features) == ("digits", "fc1", 28, 128)
    assert not digits.training
    for shape in [(3, 1, 28, 28), (3, 1, 16, 16), (3, 1, 32, 32), (3, 3, 32, 32)]:
        out = digits(torch.zeros(shape))
        assert out.shape == (3, 128) and out.dtype == torch.float32


def test_digit_extractor_grey_rgb_agree(digits):
    x = load("mnist5k", "val").images[:16]
    torch.testing.assert_close(digits(x.expand(-1, 3, -1, -1)), digits(x), rtol=1e-5, atol=1e-5)


def test_committed_digit_weights_accuracy(digits):
    val = load("mnist5k", "val")
    acc = accuracy(digits.net, val.images, val.labels)
    assert acc >= DIGIT_ACCURACY_FLOOR, f"committed digit classifier: val accuracy {acc:.4f}"
    meta = read_meta(DIGIT_WEIGHTS)
    assert meta["val_accuracy"] == pytest.approx(acc, abs=2e-3)  # the sidecar tells the truth
    assert "scripts/train_digit_classifier.py" in meta["command"] and "seed" in meta


@pytest.mark.slow
def test_digit_fid_orders_corruptions(digits, tmp_path):
    ref = reference_statistics("mnist5k", "train", digits, cache_dir=tmp_path)
    val = load("mnist5k", "val").images
    noise = torch.rand(val.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    real = fid_score(val, digits, ref)
    shifted = fid_score(torch.roll(val, 2, dims=3), digits, ref)
    blurred = fid_score(F.avg_pool2d(val, 3, stride=1, padding=1), digits, ref)
    noisy = fid_score(noise, digits, ref)
    assert real < 10.0, "held-out real digits should be close to the train statistics"
    assert real < shifted < noisy and real < blurred < noisy
    assert noisy > 500.0
    mixes = [fid_score((1 - a) * val + a * noise, digits, ref) for a in (0.1, 0.3, 0.6)]
    assert real < mixes[0] < mixes[1] < mixes[2] < noisy
    # max_images draws a random subset, not the first images (mnist5k is sorted by class)
    sub = reference_statistics("mnist5k", "train", digits, cache_dir=tmp_path, max_images=1000)
    assert frechet_distance(*sub, *ref) < 10.0


@pytest.mark.slow
def test_digit_fid_small_images_against_resized_reference(digits, tmp_path):
    # 16x16 samples (a diffusion model's size) compare with the reference resized to 16x16
    ref16 = reference_statistics("mnist5k", "train", digits, cache_dir=tmp_path, image_size=16)
    val16 = F.interpolate(load("mnist5k", "val").images, size=16, mode="bilinear", antialias=True)
    assert fid_score(val16, digits, ref16) < 10.0


def test_compute_statistics_batch_size_invariant(digits):
    x = load("mnist5k", "val").images[:300]
    a = compute_statistics(x, digits, batch_size=300)
    b = compute_statistics(x, digits, batch_size=7)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-4, atol=1e-5)
    assert fid_score(x, digits, a) == pytest.approx(0.0, abs=1e-6 * np.trace(a[1]))


# ----------------------------------------------------------------------------- cache


def test_reference_statistics_cache(digits, tmp_path, monkeypatch):
    first = reference_statistics("synthetic", "val", digits, cache_dir=tmp_path)
    files = sorted(tmp_path.glob("*.npz"))
    assert len(files) == 1
    key = files[0].name
    for part in ("synthetic", "val", "digits", "fc1", "r28"):
        assert part in key

    def refuse(*args, **kwargs):
        raise AssertionError("the cached statistics should have been used")

    monkeypatch.setattr("course_lib.data.load", refuse)
    second = reference_statistics("synthetic", "val", digits, cache_dir=tmp_path)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    monkeypatch.undo()

    other_split = reference_statistics("synthetic", "train", digits, cache_dir=tmp_path, max_images=64)
    random_digits = get_extractor("digits", weights="random")
    other_weights = reference_statistics("synthetic", "val", random_digits, cache_dir=tmp_path)
    assert len(set(tmp_path.glob("*.npz"))) == 3
    assert not np.allclose(other_split[0], first[0]) and not np.allclose(other_weights[0], first[0])


def test_reference_statistics_recomputes_a_corrupt_cache_file(digits, tmp_path):
    first = reference_statistics("synthetic", "val", digits, cache_dir=tmp_path, max_images=32)
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(b"not an npz file")
    again = reference_statistics("synthetic", "val", digits, cache_dir=tmp_path, max_images=32)
    np.testing.assert_array_equal(first[1], again[1])
    with np.load(path) as blob:  # rewritten
        np.testing.assert_array_equal(blob["mu"], first[0])


def test_reference_statistics_default_cache_dir_from_env(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_FID_CACHE", str(tmp_path / "fidcache"))
    reference_statistics("synthetic", "val", digits, max_images=32)
    assert len(list((tmp_path / "fidcache").glob("*_n32_*.npz"))) == 1


# ----------------------------------------------------------------------------- errors


def test_unknown_extractor_lists_valid_names():
    with pytest.raises(ValueError, match="'digits'.*'inception'"):
        get_extractor("vgg")


def test_wrong_image_rank_and_range(digits):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        compute_statistics(torch.zeros(10, 28, 28), digits)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        digits(torch.zeros(10, 28, 28))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        compute_statistics(torch.full((4, 1, 28, 28), 255.0), digits)
    with pytest.raises(ValueError, match="at least 2"):
        compute_statistics(torch.zeros(1, 1, 28, 28), digits)


def test_missing_inception_weights_names_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(InceptionWeightsMissingError) as err:
        get_extractor("inception")
    msg = str(err.value)
    assert INCEPTION_FILE in msg and "https://github.com/mseitzer/pytorch-fid/releases" in msg
    assert str(tmp_path / "hub" / "checkpoints" / INCEPTION_FILE) in msg and INCEPTION_ENV in msg
    with pytest.raises(InceptionWeightsMissingError, match="nowhere.pth"):
        get_extractor("inception", weights=tmp_path / "nowhere.pth")


def test_missing_weights_message_of_the_clean_extractor_is_the_inception_one(tmp_path, monkeypatch):
    """clean-fid's protocol runs on the same weights file, so its missing-file message is the same, word for word."""
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    messages = []
    for name in ("inception", "inception-clean"):
        with pytest.raises(InceptionWeightsMissingError) as err:
            get_extractor(name)
        messages.append(str(err.value))
    assert messages[0] == messages[1] and INCEPTION_FILE in messages[1]


def test_missing_digit_weights_is_a_checkpoint_error(tmp_path):
    from course_lib.checkpoints import CheckpointError

    with pytest.raises(CheckpointError, match="no checkpoint"):
        get_extractor("digits", weights=tmp_path / "absent.pt")


# ----------------------------------------------------------------------------- Inception mechanics


@pytest.mark.slow
def test_inception_matches_pytorch_fid_with_random_weights(tmp_path, monkeypatch):
    import pytorch_fid.inception as pfi

    ours = get_extractor("inception", weights="random")
    assert (ours.name, ours.layer, ours.resolution) == ("inception", "pool3", 299)
    state = ours.net.state_dict()
    # pytorch-fid's own FID Inception, built with the same weights instead of downloading them
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: state)
    theirs = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    x = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x = torch.round((x + 1) * 127.5) / 127.5 - 1  # on the 8-bit grid, as ours quantises
    with torch.no_grad():
        got = ours(x)
        want = theirs((x + 1) / 2)[0].flatten(1)  # pytorch-fid takes [0, 1]
    assert got.shape == (2, 2048)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6 * want.abs().max().item())
    # grey images go through as RGB copies
    torch.testing.assert_close(ours(x[:, :1]), ours(x[:, :1].expand(-1, 3, -1, -1)))

    # loading a weights file through the environment variable gives the same network
    path = tmp_path / INCEPTION_FILE
    torch.save(state, path)
    monkeypatch.setenv(INCEPTION_ENV, str(path))
    loaded = get_extractor("inception")
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), got)
    assert loaded.weights_id != ours.weights_id
    mu, sigma = compute_statistics(x.repeat(2, 1, 1, 1), loaded, batch_size=3)
    assert mu.shape == (2048,) and sigma.shape == (2048, 2048)


@pytest.mark.parametrize("side", [32, 300])
def test_clean_resize_matches_clean_fid(side):
    """clean-fid's "clean" resize (its own function, image by image with PIL), for a generator's float output and
    for 8-bit images, both when enlarging (32 -> 299, the course's images) and when shrinking (300 -> 299)."""
    from cleanfid.resize import build_resizer

    theirs = build_resizer("clean")  # HWC numpy in [0, 255] -> (299, 299, 3) float32
    g = torch.Generator().manual_seed(side)
    floats = torch.rand(2, 3, side, side, generator=g) * 255
    for x in (floats, floats.round()):
        want = np.stack([theirs(img.permute(1, 2, 0).numpy()).transpose(2, 0, 1) for img in x])
        got = features_mod.clean_resize(x, 299)
        assert got.shape == (2, 3, 299, 299) and got.dtype == torch.float32
        # PIL rounds each pass to float32, we compute in float64: equal to well below a grey level's 1/255
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-3)


@pytest.mark.slow
def test_clean_inception_is_clean_fids_pipeline_on_the_same_network():
    """``"inception-clean"`` = clean-fid's "clean" mode: images in [0, 255], not quantised, resized by clean-fid's
    own resizer, (x - 128) / 128 into the network (cleanfid.inception_torchscript.InceptionV3W's scaling), with
    the weights of the pytorch-fid network (checked against pytorch-fid above); its FID differs from pytorch-fid's
    protocol (the resize changes the features)."""
    from cleanfid.resize import build_resizer

    from course_lib.nets.fid_inception import pool3_features

    ours = get_extractor("inception-clean", weights="random")
    assert (ours.name, ours.layer, ours.resolution, ours.num_features) == ("inception-clean", "pool3", 299, 2048)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    resize = build_resizer("clean")
    resized = torch.stack(
        [torch.from_numpy(resize(((img + 1) * 127.5).permute(1, 2, 0).numpy()).transpose(2, 0, 1)) for img in x]
    )
    with torch.no_grad():
        want = pool3_features(ours.net, (resized - 128) / 128)
        got = ours(x)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6 * want.abs().max().item())
        torch.testing.assert_close(ours(x[:, :1]), ours(x[:, :1].expand(-1, 3, -1, -1)))
        legacy = get_extractor("inception", weights="random")(x)
    assert not torch.allclose(got, legacy, rtol=1e-2)


def test_inception_architecture_state_dict_matches_pytorch_fid():
    # the weights file pytorch-fid publishes loads strictly into pytorch-fid's fid_inception_v3();
    # the same keys and shapes must be in ours
    import pytorch_fid.inception as pfi

    from course_lib.nets.fid_inception import build_fid_inception

    ours = build_fid_inception().state_dict()
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: ours):
        theirs = pfi.fid_inception_v3().state_dict()  # load_state_dict(strict=True) inside
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


def test_every_listed_extractor_builds_and_an_unknown_one_lists_them():
    """The list the error message names must be exactly the names get_extractor accepts."""
    for name in features_mod.EXTRACTORS:
        net = features_mod.get_extractor(name, weights="random" if name.startswith("inception") else None)
        assert not net.training
    with pytest.raises(ValueError) as info:
        features_mod.get_extractor("vgg")
    listed = re.findall(r"'([\w-]+)'", str(info.value).split("expected one of")[1])
    assert tuple(listed) == tuple(features_mod.EXTRACTORS)
