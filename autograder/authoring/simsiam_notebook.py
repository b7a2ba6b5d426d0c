"""Writes solutions/04_simsiam/04_simsiam.ipynb (the nbgrader SOURCE notebook).

The .ipynb is the source of truth that `make release` turns into the student notebook; this script
is how it was first written (edit either, but re-run `python -m autograder release 04_simsiam`).

    PYTHONPATH=$PWD python autograder/authoring/simsiam_notebook.py
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.authoring import cells
from autograder.authoring.cells import answer, code, graded, md

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "solutions" / "04_simsiam" / "04_simsiam.ipynb"



CELLS = [
    md(r"""
# Assignment 4: SimSiam, stop-gradient and collapse

SimSiam (Chen and He, *Exploring Simple Siamese Representation Learning*, CVPR 2021) learns image
features without labels and without negative pairs: two augmented views $x_1, x_2$ of one image go
through the same **encoder** $f$ (a backbone followed by a projection MLP) and a **predictor** MLP
$h$, and the prediction of one view is pulled towards the encoding of the other:

$$p_1 = h(f(x_1)),\quad z_2 = f(x_2),\qquad \mathcal{D}(p_1, z_2) = -\frac{p_1}{\lVert p_1\rVert_2}\cdot\frac{z_2}{\lVert z_2\rVert_2}\quad\text{(Eq. 1)}$$

$$\mathcal{L} = \tfrac12\,\mathcal{D}(p_1, \texttt{stopgrad}(z_2)) + \tfrac12\,\mathcal{D}(p_2, \texttt{stopgrad}(z_1))\quad\text{(Eq. 3)}$$

**Why should this collapse?** The loss is minimised by *any* constant encoder: if $f(x) = c$ for every
image and $h$ is the identity, every cosine is 1 and $\mathcal{L} = -1$, its minimum. Nothing in the
loss pushes different images apart (contrastive methods add negatives for that; SimSiam does not).
The paper's finding is that two ingredients avoid this trivial solution in practice:

1. **stop-gradient** on the target branch: $z_2$ is treated as a constant. Section 5 of the paper reads
   SimSiam as an EM-like alternation: one step fixes the targets $\eta_x$ (the stop-gradient branch),
   the other fits $f$ to them. Without the stop-gradient, the gradient flows into both branches and
   the quickest way down is to make all outputs equal: the output std drops to 0 within a few
   epochs (Fig. 2).
2. **the predictor** $h$. With $h = \mathrm{id}$ the symmetric loss with stop-gradient has exactly the
   gradient of $\mathcal{D}(z_1, z_2)$ without stop-gradient (up to a factor 1/2), so the
   stop-gradient has nothing left to do and the model collapses too (Table 1a).

You will write the loss, the forward pass, the **kNN monitor** that SimSiam and MoCo use to follow
training without labels in the loss, and the **collapse indicator** (output std), then train three
runs (stop-gradient, no stop-gradient, identity predictor) and watch two of them collapse.

The fast profile (CPU) trains on 4,000 MNIST digits at 16x16 with a small conv backbone; the full
profile is the paper's CIFAR-10 recipe (ResNet-18, batch 512, 200 epochs) for a GPU.
"""),
    code(r"""
%matplotlib inline
import math
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from course_lib.checkpoints import load_or_train
from course_lib.device import get_device, seed_everything
from course_lib.kernels.augment import sample_params, augment_batch
from course_lib.metrics.knn import extract_features, knn_accuracy
from course_lib.nets.simsiam import SimSiamNet, SimSiamNetConfig
from course_lib.profiles import active_profile_name, get_profile
from course_lib.train.simsiam import profile_data, train_profile
from course_lib.viz import plot_curves, show_images
from course_lib.widgets.simsiam import neighbours_widget
"""),
    code(r"""
PROFILE = active_profile_name()
cfg = get_profile("04_simsiam")
device = get_device()
train_set, heldout_set = profile_data(cfg)
print(f"profile {PROFILE!r} on {device}: {cfg.dataset} {tuple(train_set.images.shape)}, "
      f"batch {cfg.batch_size}, {cfg.epochs} epochs, lr {cfg.lr:g}")
"""),
    md(r"""
## The two views

Each image gets its own random resized crop (area 20% to 100%), horizontal flip, colour jitter
(probability 0.8) and grayscale (probability 0.2). `course_lib.kernels.augment` draws these
parameters for a whole batch and applies them on the device in one go (no per-image Python loop);
on digits the saturation and hue parts of the jitter do nothing. Top: the originals; then two views.
(Horizontal flips are part of the paper's recipe for natural images; on digits they are one more
nuisance the features must ignore.)
"""),
    code(r"""
gen = torch.Generator().manual_seed(0)
originals = train_set.images[torch.randperm(len(train_set), generator=gen)[:16]]
aug_cfg = cfg.augment_config()
unit = (originals + 1) / 2  # [-1, 1] -> [0, 1]
views = [augment_batch(unit, sample_params(16, unit.shape[2], unit.shape[3], aug_cfg, generator=gen), aug_cfg) * 2 - 1
         for _ in range(2)]
show_images(torch.cat([originals, *views]), nrow=16, title="originals / view 1 / view 2",
            path="figures/views.png");
"""),
    md(r"""
## 1. The negative cosine similarity $\mathcal{D}$ with stop-gradient

Write `negative_cosine_similarity(p, z, stop_gradient=True)`: minus the cosine similarity of each row
of `p` with the same row of `z`, averaged over the batch (Eq. 1). With `stop_gradient=True`, `z` is
treated as a constant (no gradient flows into it; in PyTorch that is `z.detach()`).
"""),
    answer("negative_cosine_similarity", r'''
def negative_cosine_similarity(p, z, stop_gradient=True):
    """D(p, z) = -mean_b cos(p_b, z_b)  (SimSiam Eq. 1).

    Args:
        p: (B, d) predictions.
        z: (B, d) targets (encoder outputs of the other view).
        stop_gradient: treat z as a constant (no gradient into z).

    Returns:
        A scalar tensor: minus the cosine similarity of matching rows, averaged over the batch.
    """
    ### BEGIN SOLUTION
    if stop_gradient:
        z = z.detach()
    p = F.normalize(p, dim=1)
    z = F.normalize(z, dim=1)
    return -(p * z).sum(dim=1).mean()
    ### END SOLUTION
'''),
    graded("test_negative_cosine_similarity", r'''
p = torch.randn(8, 5)
assert torch.allclose(negative_cosine_similarity(p, p.clone()), torch.tensor(-1.0), atol=1e-6), "D(p, p) must be -1"
assert torch.allclose(negative_cosine_similarity(p, -p), torch.tensor(1.0), atol=1e-6), "D(p, -p) must be +1"
assert negative_cosine_similarity(p, p).dim() == 0, "return a scalar (mean over the batch)"
### BEGIN HIDDEN TESTS
import autograder.reference.simsiam as ref
g = torch.Generator().manual_seed(1)
p, z = torch.randn(16, 7, generator=g), torch.randn(16, 7, generator=g)
for sg in (True, False):
    assert torch.allclose(negative_cosine_similarity(p, z, stop_gradient=sg), ref.negative_cosine_similarity(p, z), atol=1e-5), \
        "the value differs from -mean cos(p, z): normalise each row and average over the batch"
assert torch.allclose(negative_cosine_similarity(3 * p, 0.1 * z), ref.negative_cosine_similarity(p, z), atol=1e-5), \
    "D must not depend on the norms of p and z"
### END HIDDEN TESTS
''', 2),
    graded("test_stop_gradient", r'''
p = torch.randn(8, 5, requires_grad=True)
z = torch.randn(8, 5, requires_grad=True)
negative_cosine_similarity(p, z, stop_gradient=True).backward()
assert p.grad is not None and p.grad.abs().sum() > 0, "the gradient must flow into p"
assert z.grad is None or z.grad.abs().sum() == 0, "with stop_gradient=True no gradient may flow into z"
### BEGIN HIDDEN TESTS
p = torch.randn(8, 5, requires_grad=True)
z = torch.randn(8, 5, requires_grad=True)
negative_cosine_similarity(p, z, stop_gradient=False).backward()
assert z.grad is not None and z.grad.abs().sum() > 0, "with stop_gradient=False the gradient must flow into z too"
### END HIDDEN TESTS
''', 2),
    md(r"""
## 2. The symmetrised loss

Write `simsiam_loss(p1, p2, z1, z2, stop_gradient=True)` $= \tfrac12\mathcal{D}(p_1, z_2) + \tfrac12\mathcal{D}(p_2, z_1)$
(Eq. 3; with `stop_gradient=False` it is the paper's ablation of Sec. 4.1). Use your function above.
Its minimum is $-1$.
"""),
    answer("simsiam_loss", r'''
def simsiam_loss(p1, p2, z1, z2, stop_gradient=True):
    """Symmetrised SimSiam loss D(p1, z2)/2 + D(p2, z1)/2  (SimSiam Eq. 3).

    Args:
        p1, p2: (B, d) predictor outputs of view 1 and view 2.
        z1, z2: (B, d) encoder outputs of view 1 and view 2.
        stop_gradient: passed on to negative_cosine_similarity.

    Returns:
        A scalar tensor in [-1, 1].
    """
    ### BEGIN SOLUTION
    return (negative_cosine_similarity(p1, z2, stop_gradient) + negative_cosine_similarity(p2, z1, stop_gradient)) / 2
    ### END SOLUTION
'''),
    graded("test_simsiam_loss", r'''
p1, p2, z1, z2 = (torch.randn(4, 3) for _ in range(4))
loss = simsiam_loss(p1, p2, z1, z2)
assert loss.dim() == 0, "return a scalar"
assert torch.allclose(simsiam_loss(z2, z1, z1, z2), torch.tensor(-1.0), atol=1e-6), "the loss is -1 when p1 = z2 and p2 = z1"
### BEGIN HIDDEN TESTS
import autograder.reference.simsiam as ref
g = torch.Generator().manual_seed(2)
p1, p2, z1, z2 = (torch.randn(10, 6, generator=g) for _ in range(4))
assert torch.allclose(simsiam_loss(p1, p2, z1, z2), simsiam_loss(p2, p1, z2, z1), atol=1e-6), \
    "the loss must be symmetric in the two views"
assert torch.allclose(simsiam_loss(p1, p2, z1, z2), ref.simsiam_loss(p1, p2, z1, z2), atol=1e-5), \
    "the value differs from D(p1, z2)/2 + D(p2, z1)/2: check which p goes with which z, and the 1/2"
### END HIDDEN TESTS
''', 2),
    md(r"""
## 3. The forward pass

The model (`course_lib.nets.simsiam.SimSiamNet`) has `model.encoder` ($f$: backbone + projection MLP,
images $\to z$) and `model.predictor` ($h$: $z \to p$). Write `simsiam_forward(model, x1, x2)`
returning `(p1, p2, z1, z2)`. (Do not detach anything here: the loss decides where gradients stop.)
"""),
    answer("simsiam_forward", r'''
def simsiam_forward(model, x1, x2):
    """Encode both views and predict (SimSiam Fig. 1).

    Args:
        model: a SimSiamNet with .encoder (images -> z) and .predictor (z -> p).
        x1, x2: (B, C, H, W) the two views.

    Returns:
        (p1, p2, z1, z2), each (B, d).
    """
    ### BEGIN SOLUTION
    z1 = model.encoder(x1)
    z2 = model.encoder(x2)
    return model.predictor(z1), model.predictor(z2), z1, z2
    ### END SOLUTION
'''),
    graded("test_simsiam_forward", r'''
torch.manual_seed(0)
tiny = SimSiamNet(SimSiamNetConfig(backbone="small", in_channels=1, width=4, proj_dim=8, proj_hidden=8, pred_hidden=2)).eval()
x1, x2 = torch.randn(5, 1, 16, 16), torch.randn(5, 1, 16, 16)
out = simsiam_forward(tiny, x1, x2)
assert len(out) == 4 and all(t.shape == (5, 8) for t in out), "return four (B, d) tensors (p1, p2, z1, z2)"
### BEGIN HIDDEN TESTS
with torch.no_grad():
    z1, z2 = tiny.encoder(x1), tiny.encoder(x2)
    expected = (tiny.predictor(z1), tiny.predictor(z2), z1, z2)
for name, got, want in zip(("p1", "p2", "z1", "z2"), out, expected):
    assert torch.allclose(got, want, atol=1e-5), f"{name} differs: z = model.encoder(x), p = model.predictor(z), in the order (p1, p2, z1, z2)"
assert out[0].requires_grad and out[2].requires_grad, "do not detach in the forward pass"
### END HIDDEN TESTS
''', 2),
    md(r"""
## 4. The kNN monitor

Self-supervised training has no accuracy to watch. Wu et al. (2018) and MoCo/SimSiam use a weighted
k-nearest-neighbour classifier on the backbone features: L2-normalise every feature, compute the
cosine similarity $s_{ij}$ of each query $i$ to every bank feature $j$ (the training set), keep the
$k$ most similar, give each neighbour the weight $\exp(s_{ij}/t)$ and predict the class with the
largest summed weight. Write `knn_predict(query, bank, bank_labels, k, temperature, num_classes)`.
The features you receive are **not** normalised. (Hint: `topk`, `scatter_add_` or `one_hot`.)
"""),
    answer("knn_predict", r'''
def knn_predict(query, bank, bank_labels, k, temperature, num_classes):
    """Weighted kNN classifier (Wu et al., 2018; the SimSiam/MoCo training monitor).

    Args:
        query: (M, F) features to classify (not normalised).
        bank: (N, F) features of the labelled bank (not normalised).
        bank_labels: (N,) int64 labels in [0, num_classes).
        k: number of neighbours (1 <= k <= N).
        temperature: t > 0; neighbour j of query i has weight exp(cos(q_i, b_j) / t).
        num_classes: number of classes C.

    Returns:
        (M,) int64 predicted classes: argmax over classes of the summed weights of the k most
        cosine-similar bank features.
    """
    ### BEGIN SOLUTION
    q = F.normalize(query, dim=1)  # (M, F)
    b = F.normalize(bank, dim=1)  # (N, F)
    sim = q @ b.T  # (M, N)
    top_sim, top_idx = sim.topk(k, dim=1)  # (M, k)
    weights = (top_sim / temperature).exp()  # (M, k)
    votes = torch.zeros(q.shape[0], num_classes, dtype=weights.dtype, device=q.device)
    votes.scatter_add_(1, bank_labels[top_idx], weights)  # (M, C)
    return votes.argmax(dim=1)
    ### END SOLUTION
'''),
    graded("test_knn_predict", r'''
bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
labels = torch.tensor([0, 0, 1, 1])
pred = knn_predict(torch.tensor([[1.0, 0.05], [0.05, 1.0]]), bank, labels, k=2, temperature=0.1, num_classes=2)
assert pred.shape == (2,) and pred.tolist() == [0, 1], f"expected [0, 1], got {pred.tolist()}"
### BEGIN HIDDEN TESTS
import autograder.reference.simsiam as ref
g = torch.Generator().manual_seed(3)
centres = torch.randn(5, 16, generator=g)
bank_labels = torch.randint(0, 5, (300,), generator=g)
# features of very different norms: only the directions may matter
bank = (centres[bank_labels] + 0.8 * torch.randn(300, 16, generator=g)) * torch.rand(300, 1, generator=g).mul(20).add(0.05)
query = torch.randn(50, 16, generator=g) * 3 + centres[torch.randint(0, 5, (50,), generator=g)]
for k, t in ((1, 0.1), (10, 0.1), (25, 0.5), (300, 0.07)):
    got = knn_predict(query, bank, bank_labels, k, t, 5)
    want = ref.knn_predict(query, bank, bank_labels, k, t, 5)
    assert got.shape == (50,), "return one class per query"
    assert (got == want).float().mean() >= 0.98, \
        f"k={k}, t={t}: predictions differ from the weighted kNN vote; normalise features, use cosine similarity and weights exp(s / t)"
### END HIDDEN TESTS
''', 3),
    md(r"""
## 5. The collapse indicator

Section 4.1 of the paper measures collapse with the standard deviation of the L2-normalised outputs
$z/\lVert z\rVert_2$: take the std of each dimension over the batch and average over dimensions.
When the outputs are spread isotropically on the unit sphere in $d$ dimensions the std is about
$1/\sqrt d$; when they collapse to one vector it is 0. Write `output_std(z)` (use the unbiased std,
`torch.std`'s default).
"""),
    answer("output_std", r'''
def output_std(z):
    """Mean over dimensions of the per-dimension std (over the batch) of z / ||z||_2  (SimSiam Sec. 4.1).

    Args:
        z: (B, d) outputs, B >= 2.

    Returns:
        A scalar tensor: 0 for collapsed outputs, about 1/sqrt(d) for isotropic ones.
    """
    ### BEGIN SOLUTION
    zn = F.normalize(z, dim=1)  # (B, d)
    return zn.std(dim=0).mean()
    ### END SOLUTION
'''),
    graded("test_output_std", r'''
z = torch.randn(1, 6).expand(32, 6) * torch.rand(32, 1).add(0.5)
assert output_std(z).abs() < 1e-6, "outputs that all point the same way have std 0"
iso = torch.randn(20000, 64)
assert abs(float(output_std(iso)) - 1 / math.sqrt(64)) < 0.005, "isotropic outputs in d = 64 have std about 1/sqrt(64)"
### BEGIN HIDDEN TESTS
# rows +-e_1 scaled: the normalised rows are +-e_1; column 1 has std sqrt(B/(B-1)), the others 0
B, d = 10, 4
signs = torch.tensor([1.0, -1.0] * 5)
z = torch.zeros(B, d)
z[:, 0] = signs * torch.arange(1, B + 1).float()
want = math.sqrt(B / (B - 1)) / d
assert abs(float(output_std(z)) - want) < 1e-5, "normalise each row before the std, and average the per-dimension std over dimensions"
### END HIDDEN TESTS
''', 2),
    md(r"""
## 6. Three runs

We now train the same network three times with your functions:

* **stop-gradient** (SimSiam),
* **no stop-gradient** (`stop_gradient=False`),
* **identity predictor** (`SimSiamNet(cfg.net_config(predictor="identity"))`, with stop-gradient).

Each cell loads `checkpoints/<run>.pt` when it exists (trained in the same profile) and trains
otherwise. The history records the loss and the output std (on the training batches) per epoch and
the kNN accuracy on the held-out digits every few epochs (epoch 0 is the random initialisation).
"""),
    code(r"""
def run(name, *, stop_gradient=True, predictor="mlp", seed=0):
    seed_everything(seed)
    model = SimSiamNet(cfg.net_config(predictor=predictor)).to(device)
    meta = load_or_train(
        f"checkpoints/{name}.pt", model,
        lambda: {"history": train_profile(model, cfg, forward=simsiam_forward, loss_fn=simsiam_loss,
                                          output_std=output_std, knn_predict=knn_predict,
                                          stop_gradient=stop_gradient, seed=seed, device=device, desc=name)},
        profile=PROFILE)
    hist = meta["history"]
    hist["knn"] = {int(k): v for k, v in hist["knn"].items()}  # JSON stores the epochs as strings
    return model, hist

models, histories = {}, {}
models["stop-gradient"], histories["stop-gradient"] = run("simsiam")
"""),
    code(r"""
models["no stop-gradient"], histories["no stop-gradient"] = run("simsiam_no_stopgrad", stop_gradient=False)
"""),
    code(r"""
models["identity predictor"], histories["identity predictor"] = run("simsiam_identity_predictor", predictor="identity")
"""),
    code(r"""
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
plot_curves({k: dict(enumerate(h["loss"], start=1)) for k, h in histories.items()}, ax=axes[0], ylabel="loss",
            title="SimSiam loss (min -1)")
plot_curves({k: h["knn"] for k, h in histories.items()}, ax=axes[1], ylabel="kNN accuracy", title="kNN monitor (held-out)")
plot_curves({k: dict(enumerate(h["std"], start=1)) for k, h in histories.items()}, ax=axes[2], ylabel="output std",
            title="std of z/||z|| (training batches)")
axes[2].axhline(1 / math.sqrt(cfg.proj_dim), color="gray", ls="--", label="1/sqrt(d)")
axes[2].legend()
fig.tight_layout()
fig.savefig("figures/curves.png", dpi=100)
"""),
    md(r"""
**What to look for.** Without stop-gradient the loss races to about $-1$ and the output std falls
towards 0: the network found the trivial solution, and the kNN accuracy drops below that of the
random initialisation (epoch 0). The identity predictor does the same, a little slower. With both
the stop-gradient and the predictor the loss decreases slowly, the std stays near $1/\sqrt d$ and
the kNN accuracy climbs above the random-init value.

## 7. The embeddings

Below, the backbone features of the held-out digits of each run projected on their first two
principal components (PCA of the L2-normalised features), coloured by class. The labels were never
used in training.
"""),
    code(r"""
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
labels = heldout_set.labels
for ax, (name, model) in zip(axes, models.items()):
    feats = F.normalize(extract_features(model.backbone, heldout_set.images, device=device).cpu(), dim=1)  # (M, F)
    centred = feats - feats.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    xy = centred @ v[:2].T  # (M, 2) the first two principal components
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=6)
    ax.set_title(name)
fig.colorbar(sc, ax=axes, label="digit")
fig.savefig("figures/pca.png", dpi=100)
"""),
    md(r"""
**Nearest neighbours.** Move the slider to pick a held-out digit: each row shows it next to the
eight training images whose backbone features are most similar (cosine) under one run. The healthy
run's neighbours are mostly the same digit; a collapsed run maps everything to nearly one point, so its
"neighbours" are arbitrary.
"""),
    code(r"""
bank_feats = {name: (extract_features(model.backbone, heldout_set.images, device=device).cpu(),
                     extract_features(model.backbone, train_set.images, device=device).cpu())
              for name, model in models.items()}
neighbours_widget(heldout_set.images, train_set.images, bank_feats, k=8)
"""),
    md(r"""
## 8. Graded on your checkpoints

The grader measures `checkpoints/simsiam.pt`, `checkpoints/simsiam_no_stopgrad.pt` and
`checkpoints/simsiam_identity_predictor.pt` itself on the held-out split with its own kNN classifier
and output std (the numbers printed here are for you; the grader never reads them). In the full
profile it evaluates the checkpoints you submit; in the fast profile it retrains the three runs
with your functions (a few CPU minutes), so a mistake in the loss shows up here too.
"""),
    graded("test_simsiam_knn_threshold", r'''
acc = knn_accuracy(models["stop-gradient"].backbone, knn_predict, bank_images=train_set.images, bank_labels=train_set.labels,
                   query_images=heldout_set.images, query_labels=heldout_set.labels, k=cfg.knn_k, temperature=cfg.knn_t,
                   num_classes=10, device=device)
print(f"stop-gradient run: kNN accuracy {acc:.3f} (needs >= {cfg.min_knn_accuracy}, and >= {cfg.min_knn_gain:+} over "
      f"the random-init backbone; epoch 0 above: {histories['stop-gradient']['knn'][0]:.3f})")
### BEGIN HIDDEN TESTS
import autograder.reference.simsiam as ref
m = ref.evaluate_checkpoint("checkpoints/simsiam.pt", profile=PROFILE)
base = ref.random_init_accuracy(profile=PROFILE)
assert m["knn_accuracy"] >= cfg.min_knn_accuracy, f"kNN accuracy {m['knn_accuracy']:.3f} < {cfg.min_knn_accuracy}"
assert m["knn_accuracy"] - base >= cfg.min_knn_gain, f"kNN accuracy {m['knn_accuracy']:.3f} is not {cfg.min_knn_gain} above the random-init backbone ({base:.3f})"
### END HIDDEN TESTS
''', 3),
    graded("test_simsiam_no_collapse", r'''
z = extract_features(models["stop-gradient"].encoder, heldout_set.images, device=device)
print(f"stop-gradient run: output std {float(output_std(z)):.4f} (needs >= {cfg.min_healthy_std}; 1/sqrt(d) = {1 / math.sqrt(cfg.proj_dim):.4f})")
### BEGIN HIDDEN TESTS
import autograder.reference.simsiam as ref
m = ref.evaluate_checkpoint("checkpoints/simsiam.pt", profile=PROFILE)
assert m["output_std"] >= cfg.min_healthy_std, f"output std {m['output_std']:.4f} < {cfg.min_healthy_std}: the run collapsed"
### END HIDDEN TESTS
''', 2),
    graded("test_ablations_collapse", r'''
for name in ("no stop-gradient", "identity predictor"):
    z = extract_features(models[name].encoder, heldout_set.images, device=device)
    print(f"{name}: output std {float(output_std(z)):.4f} (a collapse means <= {cfg.max_collapsed_std})")
### BEGIN HIDDEN TESTS
import autograder.reference.simsiam as ref
for path, pred in (("checkpoints/simsiam_no_stopgrad.pt", "mlp"), ("checkpoints/simsiam_identity_predictor.pt", "identity")):
    m = ref.evaluate_checkpoint(path, profile=PROFILE, predictor=pred)
    assert m["output_std"] <= cfg.max_collapsed_std, f"{path}: output std {m['output_std']:.4f} > {cfg.max_collapsed_std}; this ablation should collapse"
### END HIDDEN TESTS
''', 2),
    md(r"""
## 9. Questions (not graded)

1. Show that with $h = \mathrm{id}$, the gradient of the symmetric loss with stop-gradient with respect
   to the encoder parameters equals half the gradient of $\mathcal{D}(z_1, z_2)$ without stop-gradient.
   Why does that explain the identity-predictor collapse?
2. The projector ends with BatchNorm. In training mode that BN standardises every output dimension
   over the batch, so how can the outputs still collapse? (Look at the std measured in eval mode
   above, and at what weight decay does to the BN scale parameters.)
3. kNN accuracy on MNIST is high even for a random network. Why is "accuracy above the random
   initialisation" a better health check than the accuracy alone here?
"""),
]


def build() -> nbformat.NotebookNode:
    return cells.build(CELLS)


if __name__ == "__main__":
    cells.write(CELLS, OUT)
