"""04_simsiam: the solution's functions and course_lib's SimSiam pieces against independent references
(closed forms, scikit-learn, torchvision.transforms.v2, scipy.stats)."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch
import torchvision.transforms.v2 as T
import torchvision.transforms.v2.functional as TF
from conftest import solution_functions
from scipy import stats

from course_lib.kernels import augment as A
from course_lib.nets.simsiam import SimSiamNet, SimSiamNetConfig
from course_lib.profiles import get_profile

TINY = SimSiamNetConfig(backbone="small", in_channels=1, width=4, proj_dim=8, proj_hidden=8, pred_hidden=2)


@pytest.fixture(scope="module", params=["solution", "reference"])
def sol(request):
    """The solution notebook's functions, and the reference the hidden tests compare students with."""
    if request.param == "reference":
        import autograder.assignments.simsiam.reference as ref

        return ref
    return solution_functions("04_simsiam")


# ------------------------------------------------------------------ loss


def test_loss_is_minus_one_when_p_equals_z(sol):
    p = torch.randn(16, 10)
    assert sol.negative_cosine_similarity(p, p.clone()).item() == pytest.approx(-1.0, abs=1e-6)
    assert sol.negative_cosine_similarity(p, 5 * p).item() == pytest.approx(-1.0, abs=1e-6)
    assert sol.simsiam_loss(p, p, p, p).item() == pytest.approx(-1.0, abs=1e-6)


def test_loss_matches_closed_form(sol):
    g = np.random.default_rng(0)
    p, z = g.normal(size=(32, 7)), g.normal(size=(32, 7))
    want = -np.mean(np.sum(p * z, 1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(z, axis=1)))
    got = sol.negative_cosine_similarity(torch.from_numpy(p), torch.from_numpy(z))
    assert got.item() == pytest.approx(want, abs=1e-10)


@pytest.mark.parametrize("stop_gradient", [True, False])
def test_gradient_into_z(sol, stop_gradient):
    p = torch.randn(8, 5, requires_grad=True)
    z = torch.randn(8, 5, requires_grad=True)
    sol.negative_cosine_similarity(p, z, stop_gradient=stop_gradient).backward()
    assert p.grad.abs().sum() > 0
    if stop_gradient:
        assert z.grad is None or torch.count_nonzero(z.grad) == 0
    else:
        assert z.grad.abs().sum() > 0
        # closed form of d(-cos)/dz for one row, averaged over the batch of 8
        pn, zn = p.detach() / p.detach().norm(dim=1, keepdim=True), z.detach().norm(dim=1, keepdim=True)
        cos = (pn * (z.detach() / zn)).sum(1, keepdim=True)
        want = -(pn - cos * z.detach() / zn) / zn / 8
        assert torch.allclose(z.grad, want, atol=1e-6)


def test_simsiam_loss_symmetric_and_value(sol):
    g = torch.Generator().manual_seed(0)
    p1, p2, z1, z2 = (torch.randn(12, 6, generator=g) for _ in range(4))
    loss = sol.simsiam_loss(p1, p2, z1, z2)
    assert torch.allclose(loss, sol.simsiam_loss(p2, p1, z2, z1), atol=1e-7)
    cos = torch.nn.functional.cosine_similarity
    want = -(cos(p1, z2, dim=1).mean() + cos(p2, z1, dim=1).mean()) / 2
    assert torch.allclose(loss, want, atol=1e-6)


def test_identity_predictor_gradient_equals_half_no_stopgrad(sol):
    """With h = id, the stop-gradient loss has half the gradient of D(z1, z2) without it (notebook Q1)."""
    torch.manual_seed(0)
    net = SimSiamNet(SimSiamNetConfig(**{**TINY.__dict__, "predictor": "identity"}))
    x1, x2 = torch.randn(6, 1, 16, 16), torch.randn(6, 1, 16, 16)
    grads = []
    for fn in (
        lambda: sol.simsiam_loss(*sol.simsiam_forward(net, x1, x2), stop_gradient=True),
        lambda: sol.negative_cosine_similarity(net.encoder(x1), net.encoder(x2), stop_gradient=False),
    ):
        net.zero_grad()
        fn().backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert torch.allclose(grads[0], grads[1] / 2, atol=1e-6)


def test_simsiam_forward(sol):
    torch.manual_seed(0)
    net = SimSiamNet(TINY).eval()
    x1, x2 = torch.randn(5, 1, 16, 16), torch.randn(5, 1, 16, 16)
    p1, p2, z1, z2 = sol.simsiam_forward(net, x1, x2)
    with torch.no_grad():
        assert torch.allclose(z1, net.encoder(x1)) and torch.allclose(z2, net.encoder(x2))
        assert torch.allclose(p1, net.predictor(net.encoder(x1))) and torch.allclose(p2, net.predictor(net.encoder(x2)))


# ------------------------------------------------------------------ kNN


def _clusters(seed, n=400, m=80, c=6, f=12):
    g = np.random.default_rng(seed)
    centres = g.normal(size=(c, f))
    y = g.integers(0, c, n)
    bank = (centres[y] + g.normal(scale=1.2, size=(n, f))) * g.uniform(0.1, 10, size=(n, 1))
    query = centres[g.integers(0, c, m)] + g.normal(scale=1.2, size=(m, f))
    return bank, y, query, c


@pytest.mark.parametrize("k", [1, 5, 20])
def test_knn_uniform_weights_match_sklearn(sol, k):
    from sklearn.neighbors import KNeighborsClassifier

    bank, y, query, c = _clusters(k)
    clf = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute", weights="uniform").fit(bank, y)
    want = clf.predict(query)
    # an infinite temperature makes every weight exp(s / t) = 1: a plain majority vote
    got = sol.knn_predict(torch.from_numpy(query), torch.from_numpy(bank), torch.from_numpy(y), k, math.inf, c)
    assert got.dtype == torch.int64
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("k,t", [(1, 0.1), (10, 0.1), (50, 0.5), (400, 0.05)])
def test_knn_weighted_matches_brute_force(sol, k, t):
    bank, y, query, c = _clusters(100 + k)
    bn = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    want = []
    for q in query:
        s = bn @ (q / np.linalg.norm(q))
        votes = np.zeros(c)
        for j in np.argsort(-s)[:k]:
            votes[y[j]] += np.exp(s[j] / t)
        want.append(int(np.argmax(votes)))
    got = sol.knn_predict(torch.from_numpy(query).float(), torch.from_numpy(bank).float(), torch.from_numpy(y), k, t, c)
    np.testing.assert_array_equal(got.numpy(), np.array(want))


def test_knn_accuracy_monitor():
    from autograder.assignments.simsiam.reference import knn_predict
    from course_lib.metrics.knn import knn_accuracy

    class Flatten(torch.nn.Module):
        def forward(self, x):
            return x.flatten(1)  # (B, C*H*W)

    flat = Flatten()
    flat.register_parameter("dummy", torch.nn.Parameter(torch.zeros(1)))
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 1, 4, 4, generator=g)
    yb, yq = torch.arange(60) % 3, torch.arange(30) % 3
    xb = centres[yb] + 0.05 * torch.randn(60, 1, 4, 4, generator=g)
    xq = centres[yq] + 0.05 * torch.randn(30, 1, 4, 4, generator=g)
    kw = dict(bank_images=xb, bank_labels=yb, query_images=xq, k=5, temperature=0.1, num_classes=3, batch_size=7)
    assert knn_accuracy(flat, knn_predict, query_labels=yq, **kw) == 1.0
    assert knn_accuracy(flat, knn_predict, query_labels=(yq + 1) % 3, **kw) == 0.0
    with pytest.raises(ValueError, match="k must lie"):
        knn_accuracy(flat, knn_predict, query_labels=yq, **{**kw, "k": 61})


# ------------------------------------------------------------------ output std


def test_output_std_closed_forms(sol):
    # collapsed: every row a positive multiple of one vector
    z = torch.randn(1, 9).expand(40, 9) * torch.rand(40, 1).add(0.1)
    assert sol.output_std(z).item() == pytest.approx(0.0, abs=1e-6)
    # rows +-a e_1: normalised rows +-e_1, balanced signs -> std of column 1 is sqrt(B/(B-1)), others 0
    B, d = 12, 5
    z = torch.zeros(B, d)
    z[:, 0] = torch.tensor([1.0, -1.0] * (B // 2)) * torch.arange(1, B + 1)
    assert sol.output_std(z).item() == pytest.approx(math.sqrt(B / (B - 1)) / d, abs=1e-6)
    # the rows of a scaled orthonormal basis (B = d): each column is one 1 and d-1 zeros
    d = 6
    z = torch.diag(torch.arange(1.0, d + 1))
    col = np.zeros(d)
    col[0] = 1
    assert sol.output_std(z).item() == pytest.approx(np.std(col, ddof=1), abs=1e-6)


def test_output_std_isotropic_is_one_over_sqrt_d(sol):
    g = torch.Generator().manual_seed(0)
    for d in (16, 128):
        z = torch.randn(50_000, d, generator=g)
        assert sol.output_std(z).item() == pytest.approx(1 / math.sqrt(d), rel=0.01)


# ------------------------------------------------------------------ augmentation: parameters


@pytest.fixture(scope="module")
def params():
    g = torch.Generator().manual_seed(0)
    return A.sample_params(20_000, 32, 32, A.AugmentConfig(), generator=g)


def test_crop_distribution_matches_torchvision(params):
    torch.manual_seed(1)
    tv = np.array(
        [T.RandomResizedCrop.get_params(torch.zeros(3, 32, 32), [0.2, 1.0], [3 / 4, 4 / 3]) for _ in range(5000)]
    )  # (n, 4): top, left, h, w
    ours = np.stack([params.top, params.left, params.height, params.width], 1).astype(float)
    for col, name in enumerate(("top", "left", "height", "width")):
        assert stats.ks_2samp(ours[:, col], tv[:, col]).pvalue > 1e-3, name
    area = ours[:, 2] * ours[:, 3] / 1024
    assert area.min() >= 0.2 - 0.05 and area.max() <= 1.0
    assert (ours[:, 0] + ours[:, 2] <= 32).all() and (ours[:, 1] + ours[:, 3] <= 32).all() and ours.min() >= 0


def test_bernoulli_rates(params):
    cfg = A.AugmentConfig()
    for flags, p in ((params.flip, cfg.flip_p), (params.jitter, cfg.jitter_p), (params.gray, cfg.gray_p)):
        assert stats.binomtest(int(flags.sum()), len(flags), p).pvalue > 1e-3


def test_jitter_factor_distributions(params):
    cfg = A.AugmentConfig()
    for col, s in enumerate((cfg.brightness, cfg.contrast, cfg.saturation)):
        assert stats.kstest(params.factors[:, col].numpy(), stats.uniform(1 - s, 2 * s).cdf).pvalue > 1e-3
    assert stats.kstest(params.factors[:, 3].numpy(), stats.uniform(-cfg.hue, 2 * cfg.hue).cdf).pvalue > 1e-3


def test_jitter_order_is_a_uniform_permutation(params):
    assert (params.order.sort(1).values == torch.arange(4)).all()
    perms = {p: i for i, p in enumerate(itertools.permutations(range(4)))}
    counts = np.bincount([perms[tuple(r)] for r in params.order.tolist()], minlength=24)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_bad_config_says_what_to_do():
    with pytest.raises(ValueError, match="scale"):
        A.AugmentConfig(scale=(0.5, 0.2))
    with pytest.raises(ValueError, match="probability"):
        A.AugmentConfig(flip_p=1.5)
    with pytest.raises(ValueError, match="expects"):
        A.augment_batch(torch.rand(2, 2, 8, 8), A.sample_params(2, 8, 8))


# ------------------------------------------------------------------ augmentation: each transform vs torchvision


def _one(params, i):
    return params.index(i)


@pytest.mark.parametrize("channels", [1, 3])
def test_each_transform_matches_torchvision(channels):
    g = torch.Generator().manual_seed(channels)
    cfg = A.AugmentConfig(size=24)
    x = torch.rand(40, channels, 32, 28, generator=g)
    p = A.sample_params(40, 32, 28, cfg, generator=g)
    crops = A.resized_crop(x, p, 24)
    for i in range(40):
        t, l, h, w = (int(v[i]) for v in (p.top, p.left, p.height, p.width))
        want = TF.resized_crop(x[i], t, l, h, w, [24, 24], antialias=False)
        assert torch.allclose(crops[i], want, atol=1e-5)
        b, c, s, hue = p.factors[i].tolist()
        img = crops[i : i + 1]
        one = torch.ones(1)
        assert torch.allclose(A._apply_op(img, 0, b * one)[0], TF.adjust_brightness(crops[i], b), atol=1e-6)
        assert torch.allclose(A._apply_op(img, 1, c * one)[0], TF.adjust_contrast(crops[i], c), atol=1e-6)
        assert torch.allclose(A._apply_op(img, 2, s * one)[0], TF.adjust_saturation(crops[i], s), atol=1e-6)
        assert torch.allclose(A._apply_op(img, 3, hue * one)[0], TF.adjust_hue(crops[i], hue), atol=1e-5)
        gray = TF.rgb_to_grayscale(crops[i], num_output_channels=channels)
        assert torch.allclose(A.grayscale(img).expand_as(img)[0], gray, atol=1e-6)
    assert torch.equal(
        A.augment_batch(
            x,
            A.AugmentParams(
                **{
                    **p.__dict__,
                    "flip": torch.ones(40, dtype=torch.bool),
                    "jitter": torch.zeros(40, dtype=torch.bool),
                    "gray": torch.zeros(40, dtype=torch.bool),
                }
            ),
            cfg,
        ),
        TF.horizontal_flip(crops),
    )


@pytest.mark.parametrize("channels", [1, 3])
def test_reference_matches_torchvision_pipeline(channels):
    """augment_one == torchvision's ops composed in the sampled order, with the same parameters."""
    g = torch.Generator().manual_seed(10 + channels)
    cfg = A.AugmentConfig(size=32)
    x = torch.rand(30, channels, 32, 32, generator=g)
    p = A.sample_params(30, 32, 32, cfg, generator=g)
    ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for i in range(30):
        y = TF.resized_crop(
            x[i], int(p.top[i]), int(p.left[i]), int(p.height[i]), int(p.width[i]), [32, 32], antialias=False
        )
        if p.flip[i]:
            y = TF.horizontal_flip(y)
        if p.jitter[i]:
            for op in p.order[i].tolist():
                y = ops[op](y, float(p.factors[i, op]))
        if p.gray[i]:
            y = TF.rgb_to_grayscale(y, num_output_channels=channels)
        assert torch.allclose(A.augment_one(x[i], p.index(i), cfg), y, atol=1e-5), i


@pytest.mark.parametrize("channels", [1, 3])
def test_batched_matches_per_image_reference(channels):
    g = torch.Generator().manual_seed(20 + channels)
    cfg = A.AugmentConfig(size=20)
    x = torch.rand(64, channels, 28, 28, generator=g)
    p = A.sample_params(64, 28, 28, cfg, generator=g)
    y = A.augment_batch(x, p, cfg)
    assert y.shape == (64, channels, 20, 20) and 0 <= y.min() and y.max() <= 1
    for i in range(64):
        assert torch.allclose(y[i], A.augment_one(x[i], p.index(i), cfg), atol=1e-5), i


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_augment_on_cuda_matches_cpu():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 3, 32, 32, generator=g)
    p = A.sample_params(32, 32, 32, generator=g)
    pc = A.AugmentParams(**{k: v.cuda() for k, v in p.__dict__.items()})
    assert torch.allclose(A.augment_batch(x.cuda(), pc).cpu(), A.augment_batch(x, p), atol=1e-5)


def test_two_views_range_and_independence():
    x = torch.rand(16, 1, 16, 16) * 2 - 1
    v1, v2 = A.two_views(x, A.AugmentConfig(size=16), generator=torch.Generator().manual_seed(0))
    assert v1.shape == v2.shape == x.shape and v1.min() >= -1 and v1.max() <= 1
    assert not torch.equal(v1, v2)


# ------------------------------------------------------------------ nets, profiles, training loop


def test_nets_shapes_and_identity_predictor():
    torch.manual_seed(0)
    net = SimSiamNet(TINY)
    z = net.encoder(torch.randn(4, 1, 16, 16))
    assert z.shape == (4, 8) and net.predictor(z).shape == (4, 8)
    ident = SimSiamNet(SimSiamNetConfig(**{**TINY.__dict__, "predictor": "identity"}))
    assert not any(True for _ in ident.predictor.parameters())
    assert net.backbone(torch.randn(2, 1, 16, 16)).shape == (2, net.feature_dim)
    with pytest.raises(ValueError, match="predictor"):
        SimSiamNetConfig(predictor="linear")


@pytest.mark.slow
def test_resnet18_backbone_shape():
    net = SimSiamNet(get_profile("04_simsiam", "full").net_config())
    assert net.backbone(torch.randn(2, 3, 32, 32)).shape == (2, 512)
    n_params = sum(p.numel() for p in net.backbone.parameters())
    assert 11.0e6 < n_params < 11.3e6  # ResNet-18 with the CIFAR stem: 11.17 M parameters


def test_profiles():
    full, fast = get_profile("04_simsiam", "full"), get_profile("04_simsiam", "fast")
    # SimSiam's rule (Chen & He 2021, App. D): lr = 0.03 x B / 256
    assert full.lr == pytest.approx(0.03 * full.batch_size / 256) and full.batch_size == 512 and full.epochs == 200
    assert (full.knn_k, full.knn_t, full.weight_decay, full.momentum) == (200, 0.1, 5e-4, 0.9)
    assert full.min_knn_accuracy == 0.65 and full.augment_config().scale == (0.2, 1.0)
    assert fast.min_healthy_std > fast.max_collapsed_std
    with pytest.raises(KeyError):
        get_profile("04_simsiam", "fast", epoch=3)


@pytest.mark.parametrize("ablation_epochs", [None, 3])
def test_ablation_runs_train_the_profiles_ablation_epochs(monkeypatch, ablation_epochs):
    """train_profile gives the no-stop-gradient and identity-predictor runs ``ablation_epochs`` (the full profile
    sets 50 of 200) and the stop-gradient run ``epochs``; None keeps every run at ``epochs`` (the fast profile)."""
    import course_lib.assignments.simsiam.train as tr
    from course_lib.profiles import override

    cfg = override(get_profile("04_simsiam", "fast"), epochs=7, ablation_epochs=ablation_epochs)
    seen = {}
    monkeypatch.setattr(tr, "profile_data", lambda cfg: (None, None))
    monkeypatch.setattr(tr, "train_simsiam", lambda model, data, *, config, desc, **kw: seen.update({desc: config}))
    runs = {"simsiam": ("mlp", True), "no_stopgrad": ("mlp", False), "identity": ("identity", True)}
    for name, (predictor, stop_gradient) in runs.items():
        model = SimSiamNet(dataclasses.replace(TINY, predictor=predictor))
        tr.train_profile(model, cfg, forward=None, loss_fn=None, output_std=None, stop_gradient=stop_gradient,
                         seed=5, desc=name)  # fmt: skip
    short = 7 if ablation_epochs is None else ablation_epochs
    assert {k: c.epochs for k, c in seen.items()} == {"simsiam": 7, "no_stopgrad": short, "identity": short}
    assert {c.seed for c in seen.values()} == {5}
    monkeypatch.setenv("COURSE_SMOKE", "1")
    assert get_profile("04_simsiam", "full").ablation_epochs == 1  # smoke mode stays seconds long


def test_training_loop_runs_and_logs(sol):
    from course_lib.assignments.simsiam.train import TrainConfig, train_simsiam
    from course_lib.data import load

    data = load("synthetic", "train")
    torch.manual_seed(0)
    net = SimSiamNet(SimSiamNetConfig(**{**TINY.__dict__, "in_channels": 3}))
    calls = []
    hist = train_simsiam(
        net,
        data,
        forward=sol.simsiam_forward,
        loss_fn=sol.simsiam_loss,
        output_std=sol.output_std,
        config=TrainConfig(
            epochs=2,
            batch_size=64,
            lr=0.05,
            momentum=0.9,
            weight_decay=5e-4,
            augment=A.AugmentConfig(size=32),
            monitor_every=1,
            seed=0,
        ),
        monitor=lambda m: calls.append(m.training) or 0.5,
    )
    assert len(hist["loss"]) == len(hist["std"]) == 2 and sorted(hist["knn"]) == [0, 1, 2]
    assert all(-1 <= v <= 1 for v in hist["loss"]) and net.training
    assert calls == [True, True, True]


def test_neighbours_widget_core_matches_sklearn_euclidean_neighbours():
    """(Euclidean on purpose: cosine neighbours are half of the student's knn_predict.)"""
    from sklearn.neighbors import NearestNeighbors

    from course_lib.assignments.simsiam.widgets import nearest_neighbours, neighbours_frame

    gen = torch.Generator().manual_seed(0)
    query, bank = torch.randn(7, 12, generator=gen), torch.randn(50, 12, generator=gen)
    ref = NearestNeighbors(n_neighbors=5, metric="euclidean", algorithm="brute").fit(bank.numpy())
    _, expected = ref.kneighbors(query.numpy())
    assert nearest_neighbours(query, bank, 5).tolist() == expected.tolist()
    with pytest.raises(ValueError, match=r"\(M, F\)"):
        nearest_neighbours(query, bank[:, :3], 5)
    images = torch.rand(50, 1, 8, 8, generator=gen) * 2 - 1
    fig = neighbours_frame(images[:7], images, {"a": (query, bank), "b": (bank[:7], bank)}, index=2, k=5)
    assert len(fig.axes) == 2
