"""FLOP counting for the GPU budget (:mod:`autograder.bench.budget`): a counter that also sees the CPU's attention
kernels, FLOPs per image of a callable, the budget's rows (:class:`Item`), and the FLOPs of the networks several
assignments share (the FID Inception, the pretrained DDPM, the CIFAR ResNet-18)."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import torch
from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

from autograder.bench.gan import CountFlops

DEFAULT_BATCH = 2  # images per counted step: FLOPs per image do not depend on it


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


def make_item(assignment: str, item: str, factors: tuple[tuple[int, str], ...], flops: float) -> Item:
    units, count = times(*factors)
    return Item(assignment, item, count, units, flops / 1e9)


def sum_items(assignment: str, item: str, parts: list[tuple[tuple[tuple[int, str], ...], float]]) -> Item:
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

    from course_lib.nets.pretrained_ddpm import DDPM_CIFAR10_CONFIG

    torch.manual_seed(0)
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


def features_flops(extractor: str, channels: int, image_size: int, batch: int) -> float:
    if extractor.startswith("inception"):  # "inception-clean" too: the same network (its resize is not counted)
        return inception_flops(channels, image_size, batch)
    from course_lib.metrics.features import RANDOM, get_extractor

    return per_image(get_extractor(extractor, device="cpu", weights=RANDOM), (channels, image_size, image_size), batch)
