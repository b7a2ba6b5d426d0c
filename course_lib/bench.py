"""`make bench`: throughput of the course's fast paths against the common way, measured in one run.

Prints a Markdown table and writes it to bench/results.md. Each row times our code and a plain
baseline on the same data and device; the ratio is baseline time / our time (> 1: ours is faster).
"""
from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Callable

import torch

from course_lib.data import load
from course_lib.device import get_device


def _best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_loader(device: torch.device, batch_size: int = 128) -> dict[str, object]:
    """One shuffled epoch over mnist5k: TensorLoader vs torch DataLoader over a TensorDataset."""
    ds = load("mnist5k", "train")
    ours = ds.loader(batch_size, device=device, with_labels=True)
    plain = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(ds.images, ds.labels),
                                        batch_size=batch_size, shuffle=True)

    def run_ours():
        for xb, yb in ours:
            pass

    def run_plain():
        for xb, yb in plain:
            xb, yb = xb.to(device), yb.to(device)

    t_ours, t_plain = _best_of(run_ours), _best_of(run_plain)
    return {"what": f"mnist5k epoch, batch {batch_size}", "ours (s)": t_ours, "baseline (s)": t_plain,
            "baseline": "DataLoader(TensorDataset)", "samples/s (ours)": len(ds) / t_ours,
            "ratio": t_plain / t_ours}


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
    t_ours = _best_of(lambda: frechet_distance(*a, *b), repeats=2)
    t_plain = _best_of(lambda: calculate_frechet_distance(*a, *b), repeats=2) if calculate_frechet_distance else float("nan")
    return {"what": f"Frechet distance, {dim}-d statistics", "ours (s)": t_ours, "baseline (s)": t_plain,
            "baseline": "scipy.linalg.sqrtm (pytorch-fid)", "ratio": t_plain / t_ours}


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
            y = TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(x[i], float(bright[i])), float(contrast[i])), float(sat[i]))
            out.append(TF.rgb_to_grayscale(y, num_output_channels=3) if gray[i] else y)
        return torch.stack(out)

    t_ours = _best_of(lambda: color_jitter(x, bright, contrast, sat, gray))
    t_plain = _best_of(plain)
    return {"what": f"colour jitter + grayscale, {batch}x3x32x32", "ours (s)": t_ours, "baseline (s)": t_plain,
            "baseline": "torchvision functional, per image", "samples/s (ours)": batch / t_ours, "ratio": t_plain / t_ours}


BENCHMARKS: list[Callable[[torch.device], dict[str, object]]] = [bench_loader, bench_color_jitter, bench_frechet]


def format_table(rows: list[dict[str, object]]) -> str:
    cols = ["what", "ours (s)", "baseline (s)", "ratio", "samples/s (ours)", "baseline"]
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    device = get_device()
    rows = [bench(device) for bench in BENCHMARKS]
    header = (f"device: {device} ({platform.processor() or platform.machine()}, "
              f"{torch.get_num_threads()} threads), torch {torch.__version__}\n\n")
    table = header + format_table(rows)
    print(table)
    out = Path("bench") / "results.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
