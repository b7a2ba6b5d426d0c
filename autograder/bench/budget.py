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
import json
import os
from pathlib import Path

# Item, assignment_items, count_flops and per_image are this module's API too (the tests use them from here)
from autograder.bench.budget_count import (  # noqa: F401
    DEFAULT_BATCH,
    Item,
    count_flops,
    per_image,
    pretrained_ddpm_flops,
    resnet18_step_flops,
)
from autograder.bench.budget_items import assignment_items
from autograder.bench.full import CIFAR10_TRAIN
from autograder.bench.gan import ASSUMED_RATE
from course_lib.profiles import ASSIGNMENT_MODULES, OVERRIDES_ENV, SMOKE_ENV, env_overrides, smoke_mode

COMMAND = "python -m autograder.bench.budget --write"
REPO = Path(__file__).resolve().parents[2]
BUDGET_JSON = REPO / "docs" / "budget.json"
BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"
MARK_START, MARK_END = "<!-- budget:start -->", "<!-- budget:end -->"


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
