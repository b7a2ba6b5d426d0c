"""The GPU budget's items per assignment (:mod:`autograder.bench.budget`): what one student's run of each solution
notebook does in the full profile, every count read from ``get_profile(a, "full")``, each with its FLOPs per unit
(:mod:`autograder.bench.budget_count`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from autograder.bench.budget_count import (
    DEFAULT_BATCH,
    Item,
    count_flops,
    features_flops,
    inception_flops,
    make_item,
    per_image,
    pretrained_ddpm_flops,
    sum_items,
)
from autograder.bench.full import CIFAR10_TRAIN
from autograder.bench.gan import iteration_flops
from course_lib.profiles import get_profile

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


def _reference_stats(assignment: str, sets: list[tuple[str, str, int, int]], batch: int) -> Item:
    """Inception features of each distinct (data set, split) once: the cached FID reference statistics."""
    parts = [(((SPLIT_SIZES[(d, s)], f"{d} {s} images"),), inception_flops(c, h, batch)) for d, s, c, h in sets]
    return sum_items(assignment, "FID reference statistics (Inception, once per split)", parts)


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
        items.append(make_item(a, f"train {v} ({cfg.critic_steps(v)} critic steps per iteration)", factors, per))
        # train_gan's fid_fn: every fid_every generator steps and after the last one
        n_fid = len({i for i in range(1, steps + 1) if (cfg.fid_every and i % cfg.fid_every == 0) or i == steps})
        fid_train.append(((n_fid, "FIDs"), (cfg.fid_samples_train, "samples")))
        fid_graded.append(((cfg.fid_samples, "samples"),))
    items.append(sum_items(a, "FID while training (G + Inception)", [(f, fid) for f in fid_train]))
    items.append(sum_items(a, "graded FIDs (G + Inception)", [(f, fid) for f in fid_graded]))
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
    items = [make_item(a, f"train AE, latent {d}", epochs, step("ae", d)) for d in cfg.latent_sizes]
    items.append(
        make_item(a, f"train VAE, latent {cfg.vae_latent}", ((n_vae, "runs"), *epochs), step("vae", cfg.vae_latent))
    )
    val = ((cfg.epochs, "epochs"), (n_val, "val images"))
    vae_forward = forward("vae", cfg.vae_latent)
    items.append(
        sum_items(
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
    items.append(sum_items(a, "graded validation losses", graded))
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
        make_item(
            a,
            f"train U-Net (base {cfg.base}, mults {cfg.mults})",
            ((cfg.steps, "steps"), (cfg.batch_size, "images")),
            train,
        ),
        make_item(
            a,
            "graded held-out loss",
            ((n_eval, "images"), (cfg.loss_eval_repeats, "draws")),
            per_image(loss, shape, batch),
        ),
        sum_items(a, "demo sets (pretrained model)", [(f, step) for f in demo]),
        make_item(
            a, "trajectory widget (pretrained model)", ((trajectory, "images"), (2 * cfg.timesteps, "forwards")), step
        ),
        make_item(a, "graded DDPM samples", ((ddpm_n, "samples"), (cfg.timesteps, "steps")), step),
        make_item(a, "graded DDIM samples", ((ddim_n, "samples"), (cfg.ddim_eval_steps, "steps")), step),
        sum_items(
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
        items.append(make_item(a, f"train {run} (two views)", factors, step(predictor, stop_gradient)))
        # before training, every knn_every epochs and after the last one (train_simsiam)
        n_knn = 1 + len({e for e in range(1, epochs + 1) if e % cfg.knn_every == 0 or e == epochs})
        monitor.append(((n_knn, "kNN evaluations"),))
    items.append(
        sum_items(
            a,
            f"kNN monitor ({n_train:,} bank + {n_held:,} queries each)",
            [(f, knn) for f in monitor],
        )
    )
    graded = [
        (((2, "kNN evaluations (trained, random init)"),), knn),
        (((1 + len(cfg.collapsed_runs), "output std runs"), (n_held, "images")), encoder),
    ]
    items.append(sum_items(a, "graded kNN accuracy and output std", graded))
    figures = ((len(runs), "runs"), (2 * n_held + n_train, "images"))  # PCA of the held-out, neighbours widget
    items.append(make_item(a, "figures: PCA and neighbours features", figures, backbone))
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
        make_item(a, "train VAE", ((cfg.epochs, "epochs"), (n_train, "digits")), train),
        make_item(
            a,
            "validation ELBO after every epoch",
            ((cfg.epochs, "epochs"), (SPLIT_SIZES[(cfg.dataset, cfg.elbo_split)], "digits")),
            forward,
        ),
        sum_items(a, "graded ELBOs", elbo_sets),
        make_item(a, f"graded log p(x), K = {cfg.eval_k}", ((n[cfg.is_split], "digits"),), log_px),
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
        items.append(make_item(a, f"train VQ-VAE, K = {k}", ((cfg.epochs, "epochs"), (n_train, "images")), train))
        val.append(forward)
    items.append(
        sum_items(
            a, "validation after every epoch", [(((cfg.epochs, "epochs"), (n_val, "val images")), v) for v in val]
        )
    )
    items.append(sum_items(a, "graded reconstruction MSEs", [(((n_val, "val images"),), v) for v in val]))
    k = max(cfg.codebook_sizes)  # fit_prior: the quantised maps of the training images, for the largest K
    items.append(make_item(a, f"prior: code maps (K = {k})", ((n_train, "images"),), code_maps[k]))
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
        make_item(
            a,
            "train cGAN (one D and one G step per iteration)",
            ((cfg.iterations, "iterations"), (cfg.batch_size, "images")),
            iteration,
        ),
        make_item(
            a,
            f"graded intra-FID (G + {cfg.extractor})",
            n_samples,
            sample + features_flops(cfg.extractor, cfg.channels, cfg.image_size, batch),
        ),
        make_item(
            a,
            f"intra-FID reference statistics ({cfg.extractor}, once)",
            ((SPLIT_SIZES[(cfg.dataset, cfg.fid_split)], f"{cfg.dataset} {cfg.fid_split} images"),),
            features_flops(cfg.extractor, cfg.channels, cfg.image_size, batch),
        ),
    ]
    if cfg.classifier != "none":
        items.append(
            make_item(
                a,
                "graded class accuracy (G + digit classifier)",
                n_samples,
                sample + features_flops("digits", cfg.channels, cfg.image_size, batch),
            )
        )
    return items


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
