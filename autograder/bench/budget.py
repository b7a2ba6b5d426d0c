"""Per-student GPU budget of the full profile: FLOPs of every piece of work a solution notebook does, from the profiles.

``python -m autograder.bench.budget [--write]`` counts, on the CPU at a tiny batch, the FLOPs per image of each
full-profile piece of work (:class:`CountFlopsWithAttention`: ``torch.utils.flop_counter``'s per-operator
formulas, matmuls, convolutions and attention at 2 FLOPs per multiply-add, forward and backward as they run;
element-wise work, data loading and augmentation are not counted), multiplies it by how many the full profile does
(every count read from ``get_profile(a, "full")``) and prints a table: minutes at :data:`ASSUMED_RATE` (the
README's 25 TFLOP/s) and at an extrapolated rate (:func:`extrapolated_rate`). ``--write`` writes docs/budget.json
and the section of docs/benchmarks.md between :data:`MARK_START` and :data:`MARK_END`.

What is counted is one student's run of the solution notebook, top to bottom, with nothing cached but the FID
reference statistics (computed once per data set split): every training run, the sampling and FID/kNN/ELBO
evaluations it does while training and in its threshold cells, and the notebook's larger demo sets. Not counted:
figures and widgets of a few hundred images, and the grader's hidden part, which repeats each threshold
measurement (the rows marked "graded") on the submitted checkpoints.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

from autograder.bench.full import CIFAR10_TRAIN
from autograder.bench.gan import ASSUMED_RATE, CountFlops, iteration_flops
from course_lib.profiles import ASSIGNMENT_MODULES, OVERRIDES_ENV, SMOKE_ENV, env_overrides, get_profile, smoke_mode

COMMAND = "python -m autograder.bench.budget --write"
REPO = Path(__file__).resolve().parents[2]
BUDGET_JSON = REPO / "docs" / "budget.json"
BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"
MARK_START, MARK_END = "<!-- budget:start -->", "<!-- budget:end -->"
DEFAULT_BATCH = 2  # images per counted step: FLOPs per image do not depend on it

# images per split, (data set, split) -> N, as the data sets publish them: CIFAR-10 (Krizhevsky 2009; "val" is
# its test batch, course_lib.data.real), SVHN format 2 (Netzer et al. 2011), CUB-200-2011's official split (Wah
# et al. 2011), the fixed binarized MNIST of Larochelle and Murray (2011)
SPLIT_SIZES = {
    ("cifar10", "train"): CIFAR10_TRAIN,
    ("cifar10", "val"): 10_000,
    ("cifar10", "test"): 10_000,
    ("svhn", "train"): 73_257,
    ("svhn", "test"): 26_032,
    ("cub32", "train"): 5_994,
    ("cub32", "test"): 5_794,
    ("binarized_mnist", "train"): 50_000,
    ("binarized_mnist", "val"): 10_000,
    ("binarized_mnist", "test"): 10_000,
}


# Two published timings of the same models, each turned into a fraction of its GPU's fp32 peak with this tool's
# own FLOP counts (extrapolated_rate):
# Song, Meng and Ermon (2021), DDIM, Sec. 1: "it takes around 20 hours to sample 50k images of size 32 x 32 from a
# DDPM" (Ho et al.'s CIFAR-10 model, 1,000 steps) "on an Nvidia 2080 Ti GPU"
DDIM_PAPER_HOURS, DDIM_PAPER_IMAGES, DDIM_PAPER_STEPS = 20.0, 50_000, 1_000
RTX_2080TI_FP32 = 13.45e12  # NVIDIA Turing whitepaper: 4,352 CUDA cores x 2 x 1,545 MHz boost
# github.com/p3i0t/SimCLR-CIFAR10, README: ResNet-18 (CIFAR variant), batch 512, "38s/epoch" on one GTX 1080 Ti;
# counted as two views of CIFAR-10's 50,000 training images through this repo's CifarResNet18, forward and
# backward (its projection head is left out: a 512-d MLP, under 0.1% of the backbone's FLOPs)
SIMCLR_SECONDS_PER_EPOCH, SIMCLR_VIEWS = 38.0, 2
GTX_1080TI_FP32 = 11.34e12  # NVIDIA: 3,584 CUDA cores x 2 x 1,582 MHz boost
H100_SXM_FP32 = 66.9e12  # NVIDIA H100 datasheet: FP32 (not tensor core), SXM


class CountFlopsWithAttention(CountFlops):
    """:class:`~autograder.bench.gan.CountFlops` that also counts the CPU's fused attention kernels.

    ``flop_registry`` has formulas for the CUDA attention kernels only; on the CPU
    ``scaled_dot_product_attention`` runs ``_scaled_dot_product_flash_attention_for_cpu`` (and its backward),
    which it would miss. They are counted here with the same formulas (``sdpa_flop_count``).
    """

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = super().__torch_dispatch__(func, types, args, kwargs)
        name = func._overloadpacket.__name__
        if name == "_scaled_dot_product_flash_attention_for_cpu":
            q, k, v = args[:3]
            self.total += sdpa_flop_count(q.shape, k.shape, v.shape)
        elif name == "_scaled_dot_product_flash_attention_for_cpu_backward":
            grad_out, q, k, v = args[:4]
            self.total += sdpa_backward_flop_count(grad_out.shape, q.shape, k.shape, v.shape)
        return out


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn`` (forward, and backward if it runs one), by :class:`CountFlopsWithAttention`."""
    with CountFlopsWithAttention() as counter:
        fn()
    return counter.total


def per_image(fn: Callable[[torch.Tensor], object], shape: tuple[int, ...], batch: int, *, grad: bool = False) -> float:
    """FLOPs per image of ``fn(x)``, x a random batch of ``batch`` images of ``shape`` (no_grad unless ``grad``)."""
    torch.manual_seed(0)
    x = torch.rand(batch, *shape) * 2 - 1  # (B, C, H, W) in [-1, 1]
    with torch.set_grad_enabled(grad):
        return count_flops(lambda: fn(x)) / batch


@dataclasses.dataclass(frozen=True)
class Item:
    """One piece of work: ``units`` (images, image steps) of ``gflop_per_unit`` each; ``count``: how many, in words."""

    assignment: str
    item: str
    count: str
    units: int
    gflop_per_unit: float

    @property
    def pflop(self) -> float:
        return self.units * self.gflop_per_unit / 1e6


def times(*factors: tuple[int, str]) -> tuple[int, str]:
    """``(product, "4 runs x 6,000 iterations x 256 images")`` of ``(value, unit)`` factors."""
    return math.prod(v for v, _ in factors), " x ".join(f"{v:,} {u}" for v, u in factors)


def _item(assignment: str, item: str, factors: tuple[tuple[int, str], ...], flops: float) -> Item:
    units, count = times(*factors)
    return Item(assignment, item, count, units, flops / 1e9)


def _sum_items(assignment: str, item: str, parts: list[tuple[tuple[tuple[int, str], ...], float]]) -> Item:
    """One row of several ``(factors, FLOPs per unit)`` parts (e.g. one per run), its FLOPs their sum; parts with
    the same factors are counted in words once, as ``n runs x ...``."""
    flops = sum(times(*f)[0] * per for f, per in parts)
    units = sum(times(*f)[0] for f, _ in parts)
    groups: dict[tuple, int] = {}
    for f, _ in parts:
        groups[f] = groups.get(f, 0) + 1
    count = " + ".join(times(*(((n, "runs"),) if n > 1 else ()), *f)[1] for f, n in groups.items())
    return Item(assignment, item, count, units, flops / units / 1e9)


# ---------------------------------------------------------------- shared forward passes (per image, memoised)


@functools.cache
def inception_flops(channels: int, image_size: int, batch: int) -> float:
    """FID Inception-v3 (random weights: the same operators) on one image, resized to 299x299 inside."""
    from course_lib.metrics.features import RANDOM, get_extractor

    extractor = get_extractor("inception", device="cpu", weights=RANDOM)
    return per_image(extractor, (channels, image_size, image_size), batch)


@functools.cache
def pretrained_ddpm_flops(batch: int) -> float:
    """One step (one forward) of google/ddpm-cifar10-32's UNet2DModel, randomly initialised, on one image."""
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    from course_lib.nets.pretrained_ddpm import DDPM_CIFAR10_CONFIG

    unet = UNet2DModel(**DDPM_CIFAR10_CONFIG).eval()
    t = torch.arange(batch) * 7  # (B,)
    return per_image(lambda x: unet(x, t).sample, (3, 32, 32), batch)


@functools.cache
def resnet18_step_flops(batch: int) -> float:
    """CifarResNet18 forward and backward of one image (an SGD step's convolutions and matmuls)."""
    from course_lib.nets.simsiam import CifarResNet18

    torch.manual_seed(0)
    net = CifarResNet18(3)
    return per_image(lambda x: net(x).sum().backward(), (3, 32, 32), batch, grad=True)


def _reference_stats(assignment: str, sets: list[tuple[str, str, int, int]], batch: int) -> Item:
    """Inception features of each distinct (data set, split) once: the cached FID reference statistics."""
    parts = [(((SPLIT_SIZES[(d, s)], f"{d} {s} images"),), inception_flops(c, h, batch)) for d, s, c, h in sets]
    return _sum_items(assignment, "FID reference statistics (Inception, once per split)", parts)


# ---------------------------------------------------------------- the assignments


def gan_items(cfg, batch: int) -> list[Item]:
    """01_gan: the four variants' training, FID while training, graded FIDs (Inception), reference statistics."""
    from course_lib.assignments.gan.profile import VARIANTS
    from course_lib.nets.gan import build_generator

    a, items, fid_train, fid_graded = "01_gan", [], [], []
    torch.manual_seed(0)
    gen = build_generator(cfg).eval()
    sample = per_image(lambda x: gen(x[:, :, 0, 0]), (cfg.latent_dim, 1, 1), batch)
    fid = sample + inception_flops(cfg.channels, cfg.image_size, batch)
    for v in VARIANTS:
        vcfg, steps = cfg.for_variant(v), cfg.generator_steps(v)
        per = iteration_flops(vcfg, v, batch=batch)
        factors = ((steps, "iterations"), (cfg.batch_size, "images"))
        items.append(_item(a, f"train {v} ({cfg.critic_steps(v)} critic steps per iteration)", factors, per))
        # train_gan's fid_fn: every fid_every generator steps and after the last one
        n_fid = len({i for i in range(1, steps + 1) if (cfg.fid_every and i % cfg.fid_every == 0) or i == steps})
        fid_train.append(((n_fid, "FIDs"), (cfg.fid_samples_train, "samples")))
        fid_graded.append(((cfg.fid_samples, "samples"),))
    items.append(_sum_items(a, "FID while training (G + Inception)", [(f, fid) for f in fid_train]))
    items.append(_sum_items(a, "graded FIDs (G + Inception)", [(f, fid) for f in fid_graded]))
    sets = sorted({(cfg.for_variant(v).dataset, cfg.for_variant(v).fid_split) for v in VARIANTS})
    items.append(_reference_stats(a, [(d, s, cfg.channels, cfg.image_size) for d, s in sets], batch))
    return items


def vae_items(cfg, batch: int) -> list[Item]:
    """02_vae: every AE and VAE run (the notebook's 3 + 4), their per-epoch validation, the graded evaluations."""
    from autograder.assignments.vae.reference import ae_loss, vae_loss
    from course_lib.nets.conv_vae import build_model

    a, shape = "02_vae", (cfg.in_channels, cfg.image_size, cfg.image_size)
    n_train = cfg.train_size or SPLIT_SIZES[(cfg.dataset, "train")]
    n_val = SPLIT_SIZES[(cfg.dataset, "val")]

    def loss(kind: str, latent: int) -> Callable[[torch.Tensor], torch.Tensor]:
        torch.manual_seed(0)
        model = build_model(
            kind, latent_dim=latent, in_channels=cfg.in_channels, image_size=cfg.image_size, widths=tuple(cfg.widths)
        )
        if kind == "ae":
            return lambda x: ae_loss(model, x)[0]
        return lambda x: vae_loss(model, x, torch.randn(x.shape[0], latent), 1.0)[0]

    def step(kind: str, latent: int) -> float:
        f = loss(kind, latent)
        return per_image(lambda x: f(x).backward(), shape, batch, grad=True)

    def forward(kind: str, latent: int) -> float:
        return per_image(loss(kind, latent), shape, batch)

    n_vae = len(cfg.betas) + 1  # one run per constant beta and the linear schedule (the notebook's cell 24)
    epochs = ((cfg.epochs, "epochs"), (n_train, "images"))
    items = [_item(a, f"train AE, latent {d}", epochs, step("ae", d)) for d in cfg.latent_sizes]
    items.append(
        _item(a, f"train VAE, latent {cfg.vae_latent}", ((n_vae, "runs"), *epochs), step("vae", cfg.vae_latent))
    )
    val = ((cfg.epochs, "epochs"), (n_val, "val images"))
    vae_forward = forward("vae", cfg.vae_latent)
    items.append(
        _sum_items(
            a,
            "validation after every epoch",
            [
                *[(val, forward("ae", d)) for d in cfg.latent_sizes],
                *[(val, vae_forward)] * n_vae,
            ],
        )
    )
    # threshold cells: the AE, the four VAEs, and the KL order's runs again
    graded = [
        (((1, "AE"), (n_val, "val images")), forward("ae", cfg.vae_latent)),
        (((n_vae + len(cfg.kl_order_betas), "VAE evaluations"), (n_val, "val images")), forward("vae", cfg.vae_latent)),
    ]
    items.append(_sum_items(a, "graded validation losses", graded))
    return items


def diffusion_items(cfg, batch: int) -> list[Item]:
    """03_diffusion: the training question, the pretrained model's demo and graded samples, Inception features."""
    from autograder.assignments.diffusion.reference import build_model, ddpm_loss, reference_schedule

    a, shape = "03_diffusion", (cfg.channels, cfg.image_size, cfg.image_size)
    ddpm_n, ddim_n = cfg.graded_sample_count("ddpm"), cfg.graded_sample_count("ddim")
    torch.manual_seed(0)
    model, schedule = build_model(cfg), reference_schedule(cfg)

    def loss(x: torch.Tensor) -> torch.Tensor:
        t = torch.randint(0, cfg.timesteps, (x.shape[0],))  # (B,)
        return ddpm_loss(model, x, t, torch.randn_like(x), schedule)

    train = per_image(lambda x: loss(x).backward(), shape, batch, grad=True)
    if not cfg.pretrained_hub:
        raise ValueError(
            f"the budget counts 03's sampling with the pretrained diffusers model, got {cfg.pretrained_hub!r}"
        )
    step = pretrained_ddpm_flops(batch)
    inception = inception_flops(cfg.channels, cfg.image_size, batch)
    n_eval = cfg.loss_eval_size or SPLIT_SIZES[(cfg.dataset, cfg.eval_split)]
    demo = [((cfg.demo_samples, "samples"), (cfg.timesteps, "DDPM steps"))]
    demo += [((cfg.demo_samples, "samples"), (s, "DDIM steps")) for s in cfg.ddim_steps]
    trajectory = 8  # the notebook's trajectory widget: 8 images, every step sampled and then denoised once more
    n_sets = 1 + len(cfg.ddim_steps)
    return [
        _item(
            a,
            f"train U-Net (base {cfg.base}, mults {cfg.mults})",
            ((cfg.steps, "steps"), (cfg.batch_size, "images")),
            train,
        ),
        _item(
            a,
            "graded held-out loss",
            ((n_eval, "images"), (cfg.loss_eval_repeats, "draws")),
            per_image(loss, shape, batch),
        ),
        _sum_items(a, "demo sets (pretrained model)", [(f, step) for f in demo]),
        _item(
            a, "trajectory widget (pretrained model)", ((trajectory, "images"), (2 * cfg.timesteps, "forwards")), step
        ),
        _item(a, "graded DDPM samples", ((ddpm_n, "samples"), (cfg.timesteps, "steps")), step),
        _item(a, "graded DDIM samples", ((ddim_n, "samples"), (cfg.ddim_eval_steps, "steps")), step),
        _sum_items(
            a,
            "Inception features of the samples",
            [
                (((n_sets, "demo sets"), (cfg.demo_samples, "samples")), inception),
                (((1, "graded DDPM set"), (ddpm_n, "samples")), inception),
                (((1, "graded DDIM set"), (ddim_n, "samples")), inception),
            ],
        ),
        _reference_stats(a, [(cfg.dataset, cfg.eval_split, cfg.channels, cfg.image_size)], batch),
    ]


def simsiam_items(cfg, batch: int) -> list[Item]:
    """04_simsiam: the main run and both ablations, the kNN monitor, the graded evaluations and the figures."""
    from autograder.assignments.simsiam.reference import knn_predict, simsiam_forward, simsiam_loss
    from course_lib.assignments.simsiam.profile import ABLATIONS
    from course_lib.nets.simsiam import SimSiamNet

    a, shape = "04_simsiam", (cfg.in_channels, cfg.image_size, cfg.image_size)
    n_train = SPLIT_SIZES[(cfg.dataset, "train")]
    n_held = SPLIT_SIZES[(cfg.dataset, cfg.heldout_split)]

    def net(predictor: str = "mlp") -> SimSiamNet:
        torch.manual_seed(0)
        return SimSiamNet(cfg.net_config(predictor=predictor)).train()

    def step(predictor: str, stop_gradient: bool) -> float:
        model = net(predictor)
        return per_image(
            lambda x: simsiam_loss(*simsiam_forward(model, x, x.flip(-1)), stop_gradient=stop_gradient).backward(),
            shape,
            batch,
            grad=True,
        )

    model = net().eval()
    backbone = per_image(model.backbone, shape, batch)
    encoder = per_image(model.encoder, shape, batch)
    feats = torch.randn(2 * batch, model.feature_dim)  # (N, F): a bank of 2 * batch features, batch queries
    labels = torch.zeros(2 * batch, dtype=torch.long)
    pair = count_flops(lambda: knn_predict(feats[:batch], feats, labels, 1, cfg.knn_t, 10)) / (batch * 2 * batch)
    knn = (n_train + n_held) * backbone + n_held * n_train * pair  # one kNN evaluation: bank, queries, similarities
    ablation_epochs = cfg.ablation_epochs if getattr(cfg, "ablation_epochs", None) is not None else cfg.epochs
    runs = [("simsiam", "mlp", True, cfg.epochs)]
    # the notebook's ablation cells: no stop-gradient (predictor kept), identity predictor (stop-gradient kept)
    runs += [
        (run, predictor, run != "simsiam_no_stopgrad", ablation_epochs) for run, (_, predictor) in ABLATIONS.items()
    ]
    steps = n_train // cfg.batch_size  # drop_last
    items, monitor = [], []
    for run, predictor, stop_gradient, epochs in runs:
        factors = ((epochs, "epochs"), (steps, "steps"), (cfg.batch_size, "images"))
        items.append(_item(a, f"train {run} (two views)", factors, step(predictor, stop_gradient)))
        # before training, every knn_every epochs and after the last one (train_simsiam)
        n_knn = 1 + len({e for e in range(1, epochs + 1) if e % cfg.knn_every == 0 or e == epochs})
        monitor.append(((n_knn, "kNN evaluations"),))
    items.append(
        _sum_items(
            a,
            f"kNN monitor ({n_train:,} bank + {n_held:,} queries each)",
            [(f, knn) for f in monitor],
        )
    )
    graded = [
        (((2, "kNN evaluations (trained, random init)"),), knn),
        (((1 + len(cfg.collapsed_runs), "output std runs"), (n_held, "images")), encoder),
    ]
    items.append(_sum_items(a, "graded kNN accuracy and output std", graded))
    figures = ((len(runs), "runs"), (2 * n_held + n_train, "images"))  # PCA of the held-out, neighbours widget
    items.append(_item(a, "figures: PCA and neighbours features", figures, backbone))
    return items


def importance_sampling_items(cfg, batch: int) -> list[Item]:
    """05_importance_sampling: training, the per-epoch validation ELBO, the graded ELBO and log p(x)."""
    from autograder.assignments.importance_sampling.reference import elbo, importance_sampling_log_px
    from course_lib.nets.mlp_vae import MLPVAE

    a, shape = "05_importance_sampling", (1, 28, 28)
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=cfg.latent_dim, hidden=cfg.hidden)

    def value(x: torch.Tensor) -> torch.Tensor:
        return elbo(model, (x > 0).float(), torch.randn(x.shape[0], cfg.latent_dim))

    train = per_image(lambda x: value(x).mean().backward(), shape, batch, grad=True)
    forward = per_image(value, shape, batch)
    log_px = per_image(
        lambda x: importance_sampling_log_px(
            model, (x > 0).float(), torch.randn(x.shape[0], cfg.eval_k, cfg.latent_dim)
        ),
        shape,
        batch,
    )
    n = {s: cfg.eval_size or SPLIT_SIZES[(cfg.dataset, s)] for s in (cfg.elbo_split, cfg.is_split)}
    elbo_sets = [(((2, f"{cfg.elbo_split} ELBOs (two cells)"), (n[cfg.elbo_split], "digits")), forward)]
    if cfg.is_split != cfg.elbo_split:
        elbo_sets.append((((1, f"{cfg.is_split} ELBO"), (n[cfg.is_split], "digits")), forward))
    n_train = SPLIT_SIZES[(cfg.dataset, cfg.train_split)]
    return [
        _item(a, "train VAE", ((cfg.epochs, "epochs"), (n_train, "digits")), train),
        _item(
            a,
            "validation ELBO after every epoch",
            ((cfg.epochs, "epochs"), (SPLIT_SIZES[(cfg.dataset, cfg.elbo_split)], "digits")),
            forward,
        ),
        _sum_items(a, "graded ELBOs", elbo_sets),
        _item(a, f"graded log p(x), K = {cfg.eval_k}", ((n[cfg.is_split], "digits"),), log_px),
    ]


def vqvae_items(cfg, batch: int) -> list[Item]:
    """06_vqvae: a run per codebook size, their per-epoch validation, the graded MSEs, the prior's code maps."""
    from autograder.assignments.vqvae.reference import quantize, vq_losses
    from course_lib.assignments.vqvae.train import build_model, reconstruct
    from course_lib.nets.vqvae import to_vectors

    a, shape = "06_vqvae", (cfg.in_channels, cfg.image_size, cfg.image_size)
    n_train = cfg.train_size or SPLIT_SIZES[(cfg.dataset, "train")]
    n_val = cfg.eval_size or SPLIT_SIZES[(cfg.dataset, "val")]

    def loss(model, x: torch.Tensor) -> torch.Tensor:
        x_hat, z_e, z_q, _ = reconstruct(model, x, quantize)
        return torch.nn.functional.mse_loss(x_hat, x) + sum(vq_losses(z_e, z_q, cfg.beta))

    def counts(k: int) -> tuple[float, float, float]:
        # FLOPs per image of the model with k codes: a training step, a reconstruction, a quantised code map
        model = build_model(cfg, k)
        train = per_image(lambda x: loss(model, x).backward(), shape, batch, grad=True)
        code_map = per_image(lambda x: quantize(to_vectors(model.encode(x)), model.codebook), shape, batch)
        return train, per_image(lambda x: reconstruct(model, x, quantize), shape, batch), code_map

    items, val, code_maps = [], [], {}
    for k in cfg.codebook_sizes:
        train, forward, code_maps[k] = counts(k)
        items.append(_item(a, f"train VQ-VAE, K = {k}", ((cfg.epochs, "epochs"), (n_train, "images")), train))
        val.append(forward)
    items.append(
        _sum_items(
            a, "validation after every epoch", [(((cfg.epochs, "epochs"), (n_val, "val images")), v) for v in val]
        )
    )
    items.append(_sum_items(a, "graded reconstruction MSEs", [(((n_val, "val images"),), v) for v in val]))
    k = max(cfg.codebook_sizes)  # fit_prior: the quantised maps of the training images, for the largest K
    items.append(_item(a, f"prior: code maps (K = {k})", ((n_train, "images"),), code_maps[k]))
    return items


def cgan_items(cfg, batch: int) -> list[Item]:
    """07_cgan: the training run, the graded intra-FID (and class accuracy where a classifier is measured)."""
    from autograder.assignments.cgan import reference as ref
    from course_lib.assignments.cgan.train import config_for, generate, train_cgan
    from course_lib.data import Dataset
    from course_lib.nets.cgan import build_cgan

    a = "07_cgan"
    torch.manual_seed(0)
    gan = build_cgan(cfg)
    images = torch.rand(2 * batch, cfg.channels, cfg.image_size, cfg.image_size) * 2 - 1  # (N, C, H, W)
    data = Dataset(images=images, labels=torch.arange(2 * batch) % cfg.n_classes, name="synthetic", split="train")
    config = dataclasses.replace(config_for(cfg), iterations=1, batch_size=batch, log_every=1)
    losses = dict(
        generator_input_fn=ref.generator_input,
        projection_fn=ref.projection_logits,
        d_loss_fn=ref.d_loss_conditional,
        g_loss_fn=ref.g_loss_conditional,
    )
    iteration = count_flops(lambda: train_cgan(gan, data=data, config=config, device="cpu", **losses)) / batch
    labels = torch.arange(batch) % cfg.n_classes
    sample = per_image(
        lambda z: generate(gan.generator, z[:, :, 0, 0], labels, ref.generator_input), (cfg.latent_dim, 1, 1), batch
    )
    n_samples = ((cfg.n_classes, "classes"), (cfg.samples_per_class, "samples"))
    items = [
        _item(
            a,
            "train cGAN (one D and one G step per iteration)",
            ((cfg.iterations, "iterations"), (cfg.batch_size, "images")),
            iteration,
        ),
        _item(
            a,
            f"graded intra-FID (G + {cfg.extractor})",
            n_samples,
            sample + _features_flops(cfg.extractor, cfg.channels, cfg.image_size, batch),
        ),
        _item(
            a,
            f"intra-FID reference statistics ({cfg.extractor}, once)",
            ((SPLIT_SIZES[(cfg.dataset, cfg.fid_split)], f"{cfg.dataset} {cfg.fid_split} images"),),
            _features_flops(cfg.extractor, cfg.channels, cfg.image_size, batch),
        ),
    ]
    if cfg.classifier != "none":
        items.append(
            _item(
                a,
                "graded class accuracy (G + digit classifier)",
                n_samples,
                sample + _features_flops("digits", cfg.channels, cfg.image_size, batch),
            )
        )
    return items


def _features_flops(extractor: str, channels: int, image_size: int, batch: int) -> float:
    if extractor == "inception":
        return inception_flops(channels, image_size, batch)
    from course_lib.metrics.features import RANDOM, get_extractor

    return per_image(get_extractor(extractor, device="cpu", weights=RANDOM), (channels, image_size, image_size), batch)


ITEMS: dict[str, Callable] = {
    "01_gan": gan_items,
    "02_vae": vae_items,
    "03_diffusion": diffusion_items,
    "04_simsiam": simsiam_items,
    "05_importance_sampling": importance_sampling_items,
    "06_vqvae": vqvae_items,
    "07_cgan": cgan_items,
}


def assignment_items(assignment: str, cfg=None, *, batch: int = DEFAULT_BATCH) -> list[Item]:
    """The items of ``assignment`` under ``cfg`` (default: ``get_profile(assignment, "full")``)."""
    if assignment not in ITEMS:
        raise ValueError(f"no budget for {assignment!r}; expected one of {', '.join(ITEMS)} (add its items here)")
    return ITEMS[assignment](get_profile(assignment, "full") if cfg is None else cfg, batch)


def extrapolated_rate(*, batch: int = DEFAULT_BATCH) -> dict[str, float]:
    """An H100-class sustained rate from the two published timings, as fractions of their GPUs' fp32 peaks.

    Returns:
        ``{"ddpm_rate", "ddpm_fraction", "simclr_rate", "simclr_fraction", "fraction", "rate"}`` (FLOP/s):
        each timing's sustained rate with this tool's FLOP counts, its fraction of that GPU's peak, their mean,
        and the mean times :data:`H100_SXM_FP32`.
    """
    ddpm = DDIM_PAPER_IMAGES * DDIM_PAPER_STEPS * pretrained_ddpm_flops(batch) / (DDIM_PAPER_HOURS * 3600)
    simclr = CIFAR10_TRAIN * SIMCLR_VIEWS * resnet18_step_flops(batch) / SIMCLR_SECONDS_PER_EPOCH
    fractions = ddpm / RTX_2080TI_FP32, simclr / GTX_1080TI_FP32
    fraction = sum(fractions) / len(fractions)
    return {
        "ddpm_rate": ddpm,
        "ddpm_fraction": fractions[0],
        "simclr_rate": simclr,
        "simclr_fraction": fractions[1],
        "fraction": fraction,
        "rate": fraction * H100_SXM_FP32,
    }


def budget(*, batch: int = DEFAULT_BATCH, assignments: tuple[str, ...] | None = None) -> dict:
    """The whole budget: rates, and per assignment its items and totals (what docs/budget.json holds)."""
    rates = extrapolated_rate(batch=batch)
    out = {"command": COMMAND, "batch": batch, "assumed_rate": ASSUMED_RATE, "extrapolated": rates, "assignments": {}}
    for a in assignments or tuple(ASSIGNMENT_MODULES):
        items = assignment_items(a, batch=batch)
        pflop = sum(i.pflop for i in items)
        out["assignments"][a] = {
            "pflop": pflop,
            "minutes_assumed": pflop * 1e15 / ASSUMED_RATE / 60,
            "minutes_extrapolated": pflop * 1e15 / rates["rate"] / 60,
            "items": [dataclasses.asdict(i) | {"pflop": i.pflop} for i in items],
        }
    total = sum(v["pflop"] for v in out["assignments"].values()) * 1e15
    out["total_gpu_hours_assumed"] = total / ASSUMED_RATE / 3600
    out["total_gpu_hours_extrapolated"] = total / rates["rate"] / 3600
    return out


def format_rates(b: dict) -> str:
    r = b["extrapolated"]
    return "\n".join(
        [
            f"- DDPM sampling (Song et al. 2021, Sec. 1): {DDIM_PAPER_IMAGES:,} images x {DDIM_PAPER_STEPS:,} steps in "
            f"{DDIM_PAPER_HOURS:g} h on an RTX 2080 Ti: {r['ddpm_rate'] / 1e12:.2f} TFLOP/s sustained, "
            f"{r['ddpm_fraction']:.1%} of its {RTX_2080TI_FP32 / 1e12:.2f} TFLOP/s fp32 peak",
            f"- SimCLR ResNet-18 (github.com/p3i0t/SimCLR-CIFAR10): {SIMCLR_VIEWS} views x {CIFAR10_TRAIN:,} images, "
            f"forward and backward, in {SIMCLR_SECONDS_PER_EPOCH:g} s on a GTX 1080 Ti: {r['simclr_rate'] / 1e12:.2f} "
            f"TFLOP/s, {r['simclr_fraction']:.1%} of its {GTX_1080TI_FP32 / 1e12:.2f} TFLOP/s",
            f"- mean fraction {r['fraction']:.1%} x H100 SXM fp32 {H100_SXM_FP32 / 1e12:.1f} TFLOP/s = "
            f"**{r['rate'] / 1e12:.1f} TFLOP/s** (extrapolated); assumed: {b['assumed_rate'] / 1e12:.0f} TFLOP/s",
        ]
    )


def format_table(b: dict) -> str:
    """The markdown table: a row per item, a subtotal per assignment, the course total in GPU-hours."""
    assumed, extrapolated = b["assumed_rate"], b["extrapolated"]["rate"]
    head = (
        f"| assignment | item | count | GFLOP per unit | PFLOP | min at {assumed / 1e12:.0f} TFLOP/s "
        f"| min at {extrapolated / 1e12:.1f} TFLOP/s |"
    )
    lines = [head, "|---|---|---|---:|---:|---:|---:|"]
    for a, v in b["assignments"].items():
        for i in v["items"]:
            minutes = [i["pflop"] * 1e15 / rate / 60 for rate in (assumed, extrapolated)]
            lines.append(
                f"| {a} | {i['item']} | {i['count']} | {i['gflop_per_unit']:.4g} | {i['pflop']:.3g} "
                f"| {minutes[0]:.3g} | {minutes[1]:.3g} |"
            )
        lines.append(
            f"| **{a}** | **total** | | | **{v['pflop']:.3g}** | **{v['minutes_assumed']:.3g}** "
            f"| **{v['minutes_extrapolated']:.3g}** |"
        )
    total = sum(v["pflop"] for v in b["assignments"].values())
    lines.append(
        f"| **course** | **total per student (GPU-hours)** | | | **{total:.4g}** "
        f"| **{b['total_gpu_hours_assumed']:.2f} h** | **{b['total_gpu_hours_extrapolated']:.2f} h** |"
    )
    return "\n".join(lines)


def section(b: dict) -> str:
    """The generated section of docs/benchmarks.md, between the markers."""
    return "\n".join(
        [
            MARK_START,
            "<!-- generated by `" + COMMAND + "`: do not edit by hand -->",
            "",
            f"`{COMMAND}` (FLOPs counted on the CPU at batch {b['batch']}; FLOPs per image do not depend on it). "
            "Forward-only work (sampling, features, kNN, evaluations) counts the forward pass; training steps forward "
            "and backward. Element-wise work, data loading, augmentation, figures of a few hundred images and the "
            "grader's repetition of the graded measurements are not counted, so these minutes are lower bounds at "
            "the stated rates.",
            "",
            "Rates:",
            "",
            format_rates(b),
            "",
            format_table(b),
            MARK_END,
        ]
    )


def write(b: dict, *, json_path: Path = BUDGET_JSON, md_path: Path = BENCHMARKS_MD) -> None:
    """docs/budget.json, and the marked section of docs/benchmarks.md (appended under a heading if absent)."""
    json_path.write_text(json.dumps(b, indent=1) + "\n")
    text = md_path.read_text()
    if MARK_START in text and MARK_END in text:
        before, rest = text.split(MARK_START, 1)
        after = rest.split(MARK_END, 1)[1]
        text = before + section(b) + after
    else:
        text = text.rstrip("\n") + "\n\n## Per-student GPU budget of the full profile\n\n" + section(b) + "\n"
    md_path.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench.budget", description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="images per counted step (1-4)")
    parser.add_argument("--write", action="store_true", help="write docs/budget.json and docs/benchmarks.md's section")
    args = parser.parse_args(argv)
    if args.write and (smoke_mode() or env_overrides()):
        parser.error(f"--write counts the full profile as registered: unset {SMOKE_ENV} and {OVERRIDES_ENV}")
    os.environ.setdefault("COURSE_PROGRESS", "0")  # the counted one-iteration runs need no progress bars
    b = budget(batch=args.batch)
    print(format_rates(b), "", format_table(b), sep="\n")
    if args.write:
        write(b)
        print(f"wrote {BUDGET_JSON.relative_to(REPO)} and the budget section of {BENCHMARKS_MD.relative_to(REPO)}")


if __name__ == "__main__":
    main()
