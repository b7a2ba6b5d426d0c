"""`make bench`: throughput of the course's fast paths against the common way, measured in one run.

Prints a Markdown table and writes it to bench/results.md. Each row times our code and a plain
baseline on the same data and device; the ratio is baseline time / our time (> 1: ours is faster).
The two sides are timed interleaved (ours, baseline, baseline, ours, ...) after one warm-up each, so a
change of machine load hits both; "pair ratios" is the range of baseline / ours over those pairs, a
measure of the noise. ``--repeats N`` times each side N times (default 3).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch

from course_lib.data import load
from course_lib.device import get_device

REPEATS = 3  # timed runs of each side (``--repeats``)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _compare(ours: Callable[[], object], plain: Callable[[], object], repeats: int | None = None) -> dict[str, object]:
    """Best time of each side over ``repeats`` interleaved runs (ours first in even rounds, the baseline
    first in odd ones), after one warm-up run of each; plus the range of the per-round ratios."""
    repeats = repeats or REPEATS
    _timed(ours), _timed(plain)  # warm-up: allocator, oneDNN primitive caches, lazy imports
    t_ours, t_plain = [], []
    for r in range(repeats):
        if r % 2 == 0:
            t_ours.append(_timed(ours)), t_plain.append(_timed(plain))
        else:
            t_plain.append(_timed(plain)), t_ours.append(_timed(ours))
    pairs = [p / o for o, p in zip(t_ours, t_plain)]
    return {
        "ours (s)": min(t_ours),
        "baseline (s)": min(t_plain),
        "ratio": min(t_plain) / min(t_ours),
        "pair ratios": f"{min(pairs):.2f}-{max(pairs):.2f}",
    }


_FAST_PATHS = {"channels_last": {"COURSE_CHANNELS_LAST": "1"}, "compile": {"COURSE_COMPILE": "1"}}


def _with_env(fn: Callable[[], object], env: dict[str, str]) -> Callable[[], object]:
    def run():
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            return fn()
        finally:
            for k, v in old.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)

    return run


def _fast_path_row(ours: Callable[[], object], what: str, samples: int, flag: str) -> dict[str, object]:
    """Our loop with the fast path ``flag`` on (the "ours" column) against the same loop with it off."""
    row = _compare(_with_env(ours, _FAST_PATHS[flag]), ours)
    return {
        "what": f"{what}, {flag} on",
        **row,
        "baseline": f"our loop, {flag} off",
        "samples/s (ours)": samples / row["ours (s)"],
    }


def bench_loader(device: torch.device, batch_size: int = 128) -> dict[str, object]:
    """One shuffled epoch over mnist5k: TensorLoader vs torch DataLoader over a TensorDataset."""
    ds = load("mnist5k", "train")
    ours = ds.loader(batch_size, device=device, with_labels=True)
    plain = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(ds.images, ds.labels), batch_size=batch_size, shuffle=True
    )

    def run_ours():
        for _xb, _yb in ours:
            pass

    def run_plain():
        for xb, yb in plain:
            xb, yb = xb.to(device), yb.to(device)

    row = _compare(run_ours, run_plain)
    return {
        "what": f"mnist5k epoch, batch {batch_size}",
        **row,
        "baseline": "DataLoader(TensorDataset)",
        "samples/s (ours)": len(ds) / row["ours (s)"],
    }


def bench_frechet(device: torch.device, dim: int = 2048) -> dict[str, object]:
    """Frechet distance between two (dim)-d Gaussians fitted to random features: ours (eigen-based,
    float64) against scipy's sqrtm as pytorch-fid computes it."""
    import numpy as np

    from course_lib.metrics.fid import feature_statistics, frechet_distance

    rng = np.random.default_rng(0)
    a = feature_statistics(rng.standard_normal((3 * dim, dim)))
    b = feature_statistics(rng.standard_normal((3 * dim, dim)) * 1.1 + 0.1)
    try:
        from pytorch_fid.fid_score import calculate_frechet_distance
    except ImportError:  # the test extra is not installed
        calculate_frechet_distance = None
    if calculate_frechet_distance is None:
        row = {
            "ours (s)": min(_timed(lambda: frechet_distance(*a, *b)) for _ in range(2)),
            "baseline (s)": float("nan"),
        }
    else:
        row = _compare(lambda: frechet_distance(*a, *b), lambda: calculate_frechet_distance(*a, *b), repeats=2)
    return {"what": f"Frechet distance, {dim}-d statistics", **row, "baseline": "scipy.linalg.sqrtm (pytorch-fid)"}


def bench_color_jitter(device: torch.device, batch: int = 256) -> dict[str, object]:
    """Per-sample colour jitter + grayscale of a (256, 3, 32, 32) batch: course_lib.kernels.color
    (the Triton kernel on CUDA, the batched torch reference elsewhere) against torchvision's functional
    ops applied image by image, the common way."""
    import torchvision.transforms.v2.functional as TF

    from course_lib.kernels.color import color_jitter

    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, 32, 32, generator=g).to(device)
    bright, contrast, sat = ((0.6 + 0.8 * torch.rand(batch, generator=g)).to(device) for _ in range(3))
    gray = (torch.rand(batch, generator=g) < 0.2).to(device)

    def plain():
        out = []
        for i in range(batch):
            y = TF.adjust_saturation(
                TF.adjust_contrast(TF.adjust_brightness(x[i], float(bright[i])), float(contrast[i])), float(sat[i])
            )
            out.append(TF.rgb_to_grayscale(y, num_output_channels=3) if gray[i] else y)
        return torch.stack(out)

    row = _compare(lambda: color_jitter(x, bright, contrast, sat, gray), plain)
    return {
        "what": f"colour jitter + grayscale, {batch}x3x32x32",
        **row,
        "baseline": "torchvision functional, per image",
        "samples/s (ours)": batch / row["ours (s)"],
    }


# --- training loops: one epoch of our loop against the same model trained the common way -------------
# The baseline is what a course notebook usually writes: a torch DataLoader over a TensorDataset (or a
# per-image torchvision transform pipeline for SimSiam), host-side batches moved to the device each step
# and ``loss.item()`` logged every step. Same model, optimiser, batch size and number of samples.


def _plain_epoch(model, opt, loader, device, step, clip: float | None = None):
    log = []
    for (xb,) in loader:
        loss = step(model, xb.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        log.append(loss.item())  # per-step host sync, the common habit
    return log


def bench_importance_sampling_epoch(device: torch.device, n: int = 2000) -> dict[str, object]:
    """05_importance_sampling: one epoch of the MLP VAE (784-300-300-2x100) on binarized mnist5k."""
    from autograder.assignments.importance_sampling.reference import elbo
    from course_lib.assignments.importance_sampling.train import config_for, train_vae
    from course_lib.data import Dataset
    from course_lib.nets.mlp_vae import MLPVAE
    from course_lib.profiles import get_profile

    cfg = get_profile("05_importance_sampling")
    full = load("binarized_mnist5k", "train")
    ds = Dataset(full.images[:n], full.labels[:n], full.name, "train")
    config = dataclasses.replace(config_for(cfg), epochs=1)

    def ours():
        train_vae(MLPVAE(latent_dim=cfg.latent_dim), elbo, ds, config=config, device=device)

    def plain():
        model = MLPVAE(latent_dim=cfg.latent_dim).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(ds.images), batch_size=cfg.batch_size, shuffle=True
        )
        _plain_epoch(
            model,
            opt,
            loader,
            device,
            lambda m, x: -elbo(m, x, torch.randn(x.shape[0], m.latent_dim, device=device)).mean(),
        )

    row = _compare(ours, plain)
    return {
        "what": f"05 VAE training epoch, {n} digits",
        **row,
        "baseline": "DataLoader + .item() per step",
        "samples/s (ours)": n / row["ours (s)"],
    }


def bench_vae_epoch(device: torch.device, n: int = 1000, *, fast_path: str | None = None) -> dict[str, object]:
    """02_vae: one epoch of the conv VAE (fast profile widths, beta 1) with gradient clipping."""
    from autograder.assignments.vae.reference import vae_loss
    from course_lib.assignments.vae.train import config_for, load_images, train
    from course_lib.nets.conv_vae import build_model
    from course_lib.profiles import get_profile

    cfg = get_profile("02_vae")
    images = load_images(cfg.dataset, "train", image_size=cfg.image_size, limit=n)
    val = images[:64]
    config = dataclasses.replace(config_for(cfg), epochs=1)

    def make():
        return build_model(
            "vae", latent_dim=cfg.vae_latent, in_channels=cfg.in_channels, image_size=cfg.image_size, widths=cfg.widths
        )

    def ours():
        torch.manual_seed(0)  # the same initial weights on both sides
        train(make(), vae_loss, images, val, config=config, beta_schedule=lambda e: 1.0, device=device)

    def plain():
        torch.manual_seed(0)
        model = make().to(device)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(images), batch_size=cfg.batch_size, shuffle=True
        )

        _plain_epoch(
            model,
            opt,
            loader,
            device,
            lambda m, x: vae_loss(m, x, torch.randn(x.shape[0], m.latent_dim, device=device), 1.0)[0],
            clip=cfg.grad_clip,
        )
        with torch.no_grad():  # validation in batches, as ours does
            for xb in val.to(device).split(cfg.batch_size):
                vae_loss(model, xb, torch.randn(len(xb), model.latent_dim, device=device), 1.0)

    if fast_path:
        return _fast_path_row(ours, f"02 conv VAE training epoch, {n} images", n, fast_path)
    row = _compare(ours, plain)
    return {
        "what": f"02 conv VAE training epoch, {n} images",
        **row,
        "baseline": "DataLoader + .item() per step",
        "samples/s (ours)": n / row["ours (s)"],
    }


def bench_simsiam_epoch(device: torch.device, n: int = 1024, *, fast_path: str | None = None) -> dict[str, object]:
    """04_simsiam: one epoch (fast profile net and augmentation): our batched on-device augmentation
    against torchvision's per-image transforms in a DataLoader, the common way."""
    import torchvision.transforms.v2 as T

    from autograder.assignments.simsiam.reference import output_std, simsiam_forward, simsiam_loss
    from course_lib.assignments.simsiam.train import config_for, prepare_images, train_simsiam
    from course_lib.data import Dataset
    from course_lib.nets.simsiam import SimSiamNet
    from course_lib.profiles import get_profile

    cfg = get_profile("04_simsiam")
    raw = load(cfg.dataset, "train")
    images = prepare_images(raw.images[:n], cfg.image_size)
    ds = Dataset(images, raw.labels[:n], raw.name, "train")

    def ours():
        train_simsiam(
            SimSiamNet(cfg.net_config()),
            ds,
            forward=simsiam_forward,
            loss_fn=simsiam_loss,
            output_std=output_std,
            config=dataclasses.replace(config_for(cfg), epochs=1),
            device=device,
        )

    if fast_path:
        return _fast_path_row(ours, f"04 SimSiam training epoch, {n} images", n, fast_path)

    b, c, s, h = cfg.jitter
    per_image = T.Compose(
        [
            T.RandomResizedCrop(cfg.image_size, scale=cfg.crop_scale, antialias=True),
            T.RandomHorizontalFlip(cfg.flip_p),
            T.RandomApply([T.ColorJitter(b, c, s, h)], p=cfg.jitter_p),
            T.RandomGrayscale(cfg.gray_p),
        ]
    )
    unit = (images + 1) / 2
    if unit.shape[1] == 1:
        unit = unit.expand(-1, 3, -1, -1)

    class TwoViews(torch.utils.data.Dataset):
        def __len__(self):
            return len(unit)

        def __getitem__(self, i):
            x = unit[i]
            return per_image(x)[: images.shape[1]] * 2 - 1, per_image(x)[: images.shape[1]] * 2 - 1

    def plain():
        model = SimSiamNet(cfg.net_config()).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        for x1, x2 in torch.utils.data.DataLoader(TwoViews(), batch_size=cfg.batch_size, shuffle=True, drop_last=True):
            loss = simsiam_loss(*simsiam_forward(model, x1.to(device), x2.to(device)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()

    row = _compare(ours, plain)
    return {
        "what": f"04 SimSiam training epoch, {n} images",
        **row,
        "baseline": "torchvision transforms per image + DataLoader + .item()",
        "samples/s (ours)": n / row["ours (s)"],
    }


def bench_gan_steps(device: torch.device, steps: int = 60) -> dict[str, object]:
    """01_gan: WGAN-GP generator steps (fast profile nets, critic steps and batch size): our loop
    against the same losses and nets in a DataLoader loop with ``.item()`` per step."""
    from course_lib.assignments.gan.train import config_for, train_gan
    from course_lib.nets.gan import build_critic, build_generator
    from course_lib.profiles import get_profile

    cfg = get_profile("01_gan")
    data = load(cfg.dataset, cfg.train_split)
    config = dataclasses.replace(config_for(cfg, "wgan_gp"), iterations=steps, fid_every=0)

    from autograder.assignments.gan.reference import d_loss_wgan_gp as d_loss
    from autograder.assignments.gan.reference import g_loss_wgan as g_loss
    from autograder.assignments.gan.reference import gradient_penalty as gp

    def ours():
        torch.manual_seed(0)
        train_gan(
            build_generator(cfg),
            build_critic(cfg),
            d_loss=d_loss,
            g_loss=g_loss,
            data=data,
            config=config,
            gradient_penalty=gp,
            device=device,
        )

    def plain():
        torch.manual_seed(0)
        g, c = build_generator(cfg).to(device), build_critic(cfg).to(device)
        opt_g = torch.optim.Adam(g.parameters(), lr=config.lr, betas=config.betas)
        opt_c = torch.optim.Adam(c.parameters(), lr=config.lr, betas=config.betas)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(data.images), batch_size=config.batch_size, shuffle=True, drop_last=True
        )
        batches, log = iter(loader), []
        for _ in range(steps):
            for _ in range(config.n_critic):
                real = next(batches, None)
                if real is None:
                    batches = iter(loader)
                    real = next(batches)
                real = real[0].to(device)
                fake = g(torch.randn(real.shape[0], g.latent_dim, device=device)).detach()
                alpha = torch.rand(real.shape[0], 1, 1, 1, device=device)
                loss_c = d_loss(c(real), c(fake), gp(c, real, fake, alpha), config.gp_lambda)
                opt_c.zero_grad(set_to_none=True)
                loss_c.backward()
                opt_c.step()
                log.append(loss_c.item())
            loss_g = g_loss(c(g(torch.randn(config.batch_size, g.latent_dim, device=device))))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            log.append(loss_g.item())

    row = _compare(ours, plain)
    n = steps * config.n_critic * config.batch_size
    return {
        "what": f"01 WGAN-GP, {steps} generator steps x {config.n_critic} critic steps",
        **row,
        "baseline": "DataLoader + .item() per step",
        "samples/s (ours)": n / row["ours (s)"],
    }


def bench_diffusion_steps(device: torch.device, steps: int = 40, *, fast_path: str | None = None) -> dict[str, object]:
    """03_diffusion: training steps of the fast-profile U-Net (16x16 mnist5k, T = 100): our loop against
    the same model and loss in a DataLoader loop with ``.item()`` per step."""
    from autograder.assignments.diffusion.reference import build_model, ddpm_loss, reference_schedule
    from course_lib.assignments.diffusion.train import config_for, train_diffusion
    from course_lib.diffusion import load_resized
    from course_lib.profiles import get_profile

    cfg = get_profile("03_diffusion")
    data = load_resized(cfg.dataset, cfg.train_split, cfg.image_size)
    schedule = reference_schedule(cfg).to(device)
    # the profile's run, shortened, without the EMA (the loop's own cost)
    config = dataclasses.replace(config_for(cfg), steps=steps, log_every=steps, ema_decay=0.0)

    def ours():
        torch.manual_seed(0)
        train_diffusion(build_model(cfg), ddpm_loss, data, schedule, config=config, device=device)

    if fast_path:
        return _fast_path_row(ours, f"03 DDPM U-Net, {steps} training steps", steps * cfg.batch_size, fast_path)

    def plain():
        torch.manual_seed(0)
        model = build_model(cfg).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(data.images), batch_size=cfg.batch_size, shuffle=True, drop_last=True
        )
        done, log = 0, []
        while done < steps:
            for (x,) in loader:
                x = x.to(device)
                t = torch.randint(0, schedule.num_timesteps, (x.shape[0],), device=device)
                loss = ddpm_loss(model, x, t, torch.randn_like(x), schedule)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                log.append(loss.item())
                done += 1
                if done == steps:
                    break

    row = _compare(ours, plain)
    return {
        "what": f"03 DDPM U-Net, {steps} training steps",
        **row,
        "baseline": "DataLoader + .item() per step",
        "samples/s (ours)": steps * cfg.batch_size / row["ours (s)"],
    }


def bench_knn_monitor(device: torch.device) -> dict[str, object]:
    """04_simsiam's kNN monitor, fast profile (bank: the mnist5k training split, queries: its validation
    split, k and temperature of the profile, an untrained net): ``course_lib.metrics.knn.knn_accuracy``
    with the reference ``knn_predict`` (one batched similarity matmul + topk on the device) against the
    common way, features through a DataLoader to NumPy and scikit-learn's KNeighborsClassifier (cosine
    metric, distance weights: the same neighbours, a slightly different vote weighting)."""
    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    from autograder.assignments.simsiam.reference import knn_predict
    from course_lib.assignments.simsiam.train import profile_data
    from course_lib.metrics.knn import knn_accuracy
    from course_lib.nets.simsiam import SimSiamNet
    from course_lib.profiles import get_profile

    cfg = get_profile("04_simsiam")
    train, held = profile_data(cfg)
    torch.manual_seed(0)
    backbone = SimSiamNet(cfg.net_config()).to(device).backbone
    num_classes = int(train.labels.max()) + 1

    def ours():
        knn_accuracy(
            backbone,
            knn_predict,
            bank_images=train.images,
            bank_labels=train.labels,
            query_images=held.images,
            query_labels=held.labels,
            k=cfg.knn_k,
            temperature=cfg.knn_t,
            num_classes=num_classes,
            device=device,
        )

    def features(images):
        with torch.no_grad():
            return np.concatenate(
                [
                    backbone(x.to(device)).cpu().numpy()
                    for (x,) in torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=512)
                ]
            )  # as knn_accuracy

    def plain():
        backbone.eval()
        clf = KNeighborsClassifier(n_neighbors=cfg.knn_k, metric="cosine", weights="distance")
        clf.fit(features(train.images), train.labels.numpy()).score(features(held.images), held.labels.numpy())
        backbone.train()

    row = _compare(ours, plain)
    return {
        "what": f"04 kNN monitor, {len(held)} queries, bank {len(train)}, k={cfg.knn_k}",
        **row,
        "baseline": "DataLoader features + sklearn KNeighborsClassifier",
        "samples/s (ours)": len(held) / row["ours (s)"],
    }


def bench_channels_last(device: torch.device) -> list[dict[str, object]]:
    """The conv loops with COURSE_CHANNELS_LAST=1 against the same loops with it off."""
    return [
        bench(device, fast_path="channels_last")
        for bench in (bench_vae_epoch, bench_diffusion_steps, bench_simsiam_epoch)
    ]


def bench_compile(device: torch.device) -> list[dict[str, object]]:
    """The conv loops with COURSE_COMPILE=1 (inductor) against the same loops without; each run builds a
    fresh model, so compilation is part of the time, as in a notebook. Opt-in (``--compile``): on the
    CPU compiling takes minutes (docs/benchmarks.md)."""
    return [
        bench(device, fast_path="compile") for bench in (bench_vae_epoch, bench_diffusion_steps, bench_simsiam_epoch)
    ]


BENCHMARKS: list[Callable[[torch.device], dict[str, object] | list[dict[str, object]]]] = [
    bench_loader,
    bench_color_jitter,
    bench_frechet,
    bench_knn_monitor,
    bench_gan_steps,
    bench_diffusion_steps,
    bench_importance_sampling_epoch,
    bench_vae_epoch,
    bench_simsiam_epoch,
    bench_channels_last,
]


def format_table(rows: list[dict[str, object]]) -> str:
    cols = ["what", "ours (s)", "baseline (s)", "ratio", "pair ratios", "samples/s (ours)", "baseline"]
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    global REPEATS
    parser = argparse.ArgumentParser(prog="python -m autograder.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed runs of each side per row")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--only", nargs="*", default=(), help="run the rows whose function name contains one of these")
    parser.add_argument("--compile", action="store_true", help="add the torch.compile rows (minutes on a CPU)")
    parser.add_argument(
        "--full-prediction",
        action="store_true",
        help="add the full-profile table: predicted (FLOPs / matmul rate) vs measured time per epoch "
        "(always on with CUDA; on the CPU it uses --prediction-batch)",
    )
    parser.add_argument(
        "--prediction-batch",
        type=int,
        default=0,
        help="images per step of the full-profile table (default: the profile's on CUDA, 8 on the CPU)",
    )
    parser.add_argument(
        "--prediction-steps", type=int, default=0, help="timed steps per model (default: 5 on CUDA, 2 on the CPU)"
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    REPEATS = args.repeats
    if args.threads:
        torch.set_num_threads(args.threads)
    benches = [
        b
        for b in BENCHMARKS + ([bench_compile] if args.compile else [])
        if not args.only or any(s in b.__name__ for s in args.only)
    ]
    device = get_device()
    devices = [torch.device("cpu")] + ([device] if device.type == "cuda" else [])  # the GPU table next to the CPU one
    tables = []
    for dev in devices:
        load_before = _load()
        rows = []
        for bench in benches:
            out = bench(dev)
            rows += out if isinstance(out, list) else [out]
        name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine())
        header = (
            f"device: {dev} ({name}, {torch.get_num_threads()} CPU threads), torch {torch.__version__}; best of "
            f"{REPEATS} interleaved runs per side; load average (1, 5, 15 min) before {load_before}, after {_load()}\n\n"
        )
        tables.append(header + format_table(rows))
        print(tables[-1], flush=True)
    if args.full_prediction or device.type == "cuda":
        from autograder.bench.full import format_prediction, full_prediction

        cpu = device.type != "cuda"
        batch = args.prediction_batch or (8 if cpu else None)
        steps = args.prediction_steps or (2 if cpu else 5)
        load_before = _load()
        rows = full_prediction(device, batch=batch, timed_steps=steps)
        tables.append(
            f"full profile on {device}: predicted (FLOPs of one step / float32 matmul rate) vs measured "
            f"({steps} timed steps) seconds per epoch of CIFAR-10; load average before {load_before}, "
            f"after {_load()}\n\n" + format_prediction(rows)
        )
        print("\n" + tables[-1])
    table = "\n\n".join(tables)
    out = Path("bench") / "results.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
