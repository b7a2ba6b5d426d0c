"""Batched SimSiam augmentation on the device, with per-sample random parameters.

The SimSiam recipe (Chen and He, 2021, Sec. 4 / the MoCo v2 augmentation) draws, for every image
independently: a random resized crop (area scale in [0.2, 1], aspect ratio in [3/4, 4/3]), a
horizontal flip (p 0.5), a colour jitter (brightness 0.4, contrast 0.4, saturation 0.4, hue 0.1, the
four in a random order, applied with p 0.8) and a grayscale conversion (p 0.2).

torchvision applies these one image at a time on the host. Here the parameters are drawn for the
whole batch at once (:func:`sample_params`) and the transforms run on the batch on whatever device
it lives on (:func:`augment_batch`): the crop is a separable bilinear resampling through ``gather``
with per-sample indices, the colour operations are per-sample blends. :func:`augment_one` is the
pure-torch per-image reference that applies the same parameters to one image with plain ops; the
tests check it against ``torchvision.transforms.v2.functional`` and the batched path against it.

Images are in [0, 1] here (helpers in :mod:`course_lib.data.ranges` convert from the model range
[-1, 1]); shape (B, C, H, W) with C in {1, 3}. For C = 1 saturation, hue and grayscale are the
identity, as in torchvision.
"""

from __future__ import annotations

import dataclasses
import math

import torch

# the colour-jitter operations, in the index order used by AugmentParams.order
JITTER_OPS = ("brightness", "contrast", "saturation", "hue")
# ITU-R 601-2 luma weights, as torchvision's rgb_to_grayscale
LUMA = (0.2989, 0.587, 0.114)


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Ranges and probabilities of the SimSiam augmentation (defaults: the paper's)."""

    size: int = 32
    scale: tuple[float, float] = (0.2, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    gray_p: float = 0.2

    def __post_init__(self):
        if not (0 < self.scale[0] <= self.scale[1] <= 1):
            raise ValueError(f"scale must satisfy 0 < lo <= hi <= 1, got {self.scale}")
        if not (0 < self.ratio[0] <= self.ratio[1]):
            raise ValueError(f"ratio must satisfy 0 < lo <= hi, got {self.ratio}")
        for name in ("flip_p", "jitter_p", "gray_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.hue <= 0.5:
            raise ValueError(f"hue must lie in [0, 0.5], got {self.hue}")
        if self.size < 1:
            raise ValueError(f"size must be a positive int, got {self.size}")


@dataclasses.dataclass(frozen=True)
class AugmentParams:
    """Per-sample parameters of one augmented view; every field has first dimension B.

    Attributes:
        top, left, height, width: (B,) int64 crop box in input pixels.
        flip: (B,) bool, horizontal flip.
        jitter: (B,) bool, colour jitter applied.
        factors: (B, 4) float32 brightness, contrast, saturation factors and hue shift.
        order: (B, 4) int64, a permutation of range(4) (indices into JITTER_OPS).
        gray: (B,) bool, grayscale conversion.
    """

    top: torch.Tensor
    left: torch.Tensor
    height: torch.Tensor
    width: torch.Tensor
    flip: torch.Tensor
    jitter: torch.Tensor
    factors: torch.Tensor
    order: torch.Tensor
    gray: torch.Tensor

    def __len__(self) -> int:
        return self.top.shape[0]

    def index(self, i: int) -> AugmentParams:
        """The parameters of sample ``i`` (a batch of one)."""
        return AugmentParams(**{f.name: getattr(self, f.name)[i : i + 1] for f in dataclasses.fields(self)})


def sample_params(
    batch: int,
    height: int,
    width: int,
    cfg: AugmentConfig = AugmentConfig(),
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
    attempts: int = 10,
) -> AugmentParams:
    """Draw per-sample augmentation parameters for ``batch`` images of size ``height`` x ``width``.

    The crop follows torchvision's ``RandomResizedCrop.get_params``: up to ``attempts`` draws of an
    area fraction ~ U(scale) and a log aspect ratio ~ U(log ratio); the first box that fits is kept,
    else the centre crop clipped to the ratio range. Offsets are uniform over the valid positions.

    Args:
        generator: a generator on ``device`` (None: the global one).
    """
    device = torch.device(device)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, device=device, generator=generator)

    area = float(height * width)
    lo, hi = cfg.scale
    target = area * (lo + (hi - lo) * rand(batch, attempts))  # (B, A)
    log_lo, log_hi = math.log(cfg.ratio[0]), math.log(cfg.ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * rand(batch, attempts))  # (B, A)
    w = torch.round(torch.sqrt(target * aspect)).long()
    h = torch.round(torch.sqrt(target / aspect)).long()
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)  # (B, A)
    first = torch.where(ok.any(1), ok.long().argmax(1), -1)  # (B,) first fitting attempt or -1
    # fallback: the whole image clipped to the aspect-ratio range (torchvision's central crop)
    in_ratio = width / height
    if in_ratio < cfg.ratio[0]:
        fw, fh = width, int(round(width / cfg.ratio[0]))
    elif in_ratio > cfg.ratio[1]:
        fh, fw = height, int(round(height * cfg.ratio[1]))
    else:
        fw, fh = width, height
    pick = first.clamp(min=0).unsqueeze(1)  # (B, 1)
    found = first >= 0
    crop_w = torch.where(found, w.gather(1, pick).squeeze(1), torch.full_like(first, fw))
    crop_h = torch.where(found, h.gather(1, pick).squeeze(1), torch.full_like(first, fh))
    # offsets uniform over {0, ..., H - h}: floor(u * (H - h + 1)); fallback boxes are centred
    top = torch.floor(rand(batch) * (height - crop_h + 1)).long()
    left = torch.floor(rand(batch) * (width - crop_w + 1)).long()
    top = torch.where(found, top, (height - crop_h) // 2)
    left = torch.where(found, left, (width - crop_w) // 2)

    def factor(strength: float) -> torch.Tensor:
        return 1 - strength + 2 * strength * rand(batch)  # U(max(0, 1 - s), 1 + s) for s <= 1

    factors = torch.stack(
        [
            factor(cfg.brightness).clamp(min=0),
            factor(cfg.contrast).clamp(min=0),
            factor(cfg.saturation).clamp(min=0),
            cfg.hue * (2 * rand(batch) - 1),
        ],
        dim=1,
    )  # (B, 4)
    order = torch.argsort(rand(batch, 4), dim=1)  # (B, 4) uniform random permutations
    return AugmentParams(
        top=top,
        left=left,
        height=crop_h,
        width=crop_w,
        flip=rand(batch) < cfg.flip_p,
        jitter=rand(batch) < cfg.jitter_p,
        factors=factors,
        order=order,
        gray=rand(batch) < cfg.gray_p,
    )


# ---------------------------------------------------------------- batched transforms (any device)


def _resize_index(start: torch.Tensor, length: torch.Tensor, out: int):
    """Source indices and weights of a bilinear resize (align_corners=False) of [start, start+length).

    Returns (i0, i1, lam), each (B, out): out[j] = (1 - lam) * in[i0] + lam * in[i1].
    """
    j = torch.arange(out, device=start.device, dtype=torch.float32)  # (out,)
    scale = length.float().unsqueeze(1) / out  # (B, 1)
    # PyTorch's area_pixel_compute_source_index: src = (j + 0.5) * in/out - 0.5, clamped at 0
    src = ((j + 0.5) * scale - 0.5).clamp(min=0)  # (B, out)
    i0 = torch.minimum(src.floor().long(), length.unsqueeze(1) - 1)
    i1 = torch.minimum(i0 + 1, length.unsqueeze(1) - 1)
    lam = src - i0.float()
    return start.unsqueeze(1) + i0, start.unsqueeze(1) + i1, lam


def resized_crop(x: torch.Tensor, params: AugmentParams, size: int) -> torch.Tensor:
    """Crop each image to its box and resize it bilinearly (no antialias) to ``size`` x ``size``.

    Args:
        x: (B, C, H, W) images.
    Returns:
        (B, C, size, size).
    """
    b, c, h, w = x.shape
    r0, r1, rl = _resize_index(params.top, params.height, size)  # (B, S)
    c0, c1, cl = _resize_index(params.left, params.width, size)  # (B, S)
    # rows first: gather along H with per-sample row indices
    rows0 = x.gather(2, r0.view(b, 1, size, 1).expand(b, c, size, w))  # (B, C, S, W)
    rows1 = x.gather(2, r1.view(b, 1, size, 1).expand(b, c, size, w))  # (B, C, S, W)
    rl = rl.view(b, 1, size, 1)  # (B, 1, S, 1)
    y = rows0 + rl * (rows1 - rows0)  # (B, C, S, W)
    cols0 = y.gather(3, c0.view(b, 1, 1, size).expand(b, c, size, size))  # (B, C, S, S)
    cols1 = y.gather(3, c1.view(b, 1, 1, size).expand(b, c, size, size))  # (B, C, S, S)
    cl = cl.view(b, 1, 1, size)  # (B, 1, 1, S)
    return cols0 + cl * (cols1 - cols0)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma; a 1-channel input is returned as is."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(1)  # (B, 1, H, W)


def _blend(x: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    ratio = ratio.view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    return (ratio * x + (1 - ratio) * other).clamp(0, 1)


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> HSV in [0, 1] (Pillow's formulas, hue as a fraction of a turn)."""
    r, g, b = x.unbind(1)
    maxc, minc = x.max(1).values, x.min(1).values
    span = maxc - minc
    flat = span == 0
    s = span / torch.where(flat, torch.ones_like(maxc), maxc)
    d = torch.where(flat, torch.ones_like(span), span)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(flat, torch.zeros_like(h), h)
    h = torch.remainder(h / 6.0 + 1.0, 1.0)
    return torch.stack([h, s, maxc], 1)  # (B, 3, H, W)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) HSV in [0, 1] -> RGB in [0, 1]."""
    h, s, v = x.unbind(1)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.long().remainder(6)
    p = (v * (1 - s)).clamp(0, 1)
    q = (v * (1 - s * f)).clamp(0, 1)
    t = (v * (1 - s * (1 - f))).clamp(0, 1)
    # sector i -> (r, g, b) as (v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)
    table = torch.stack(
        [torch.stack(c, 0) for c in [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]], 0
    )  # (6, 3, B, H, W)
    out = table.gather(0, i.unsqueeze(0).unsqueeze(0).expand(1, 3, *i.shape)).squeeze(0)  # (3, B, H, W)
    return out.transpose(0, 1)  # (B, 3, H, W)


def _apply_op(x: torch.Tensor, op: int, value: torch.Tensor) -> torch.Tensor:
    """One colour-jitter operation with per-sample value (B,)."""
    if op == 0:  # brightness: x * f
        return (x * value.view(-1, 1, 1, 1)).clamp(0, 1)  # factor as (B, 1, 1, 1)
    if op == 1:  # contrast: blend with the mean luma of each image
        return _blend(x, grayscale(x).mean(dim=(1, 2, 3), keepdim=True), value)
    if x.shape[1] == 1:  # saturation and hue leave a grayscale image unchanged
        return x
    if op == 2:  # saturation: blend with the luma image
        return _blend(x, grayscale(x), value)
    hsv = rgb_to_hsv(x)
    hue = torch.remainder(hsv[:, 0] + value.view(-1, 1, 1), 1.0)  # (B, H, W)
    return hsv_to_rgb(torch.stack([hue, hsv[:, 1], hsv[:, 2]], 1))


def color_jitter(x: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """Brightness, contrast, saturation, hue in each sample's own order, where ``params.jitter``."""
    out = x
    for position in range(4):
        op_here = params.order[:, position]  # (B,)
        for op in range(4):
            mask = (op_here == op) & params.jitter  # (B,)
            changed = _apply_op(out, op, params.factors[:, op])
            out = torch.where(mask.view(-1, 1, 1, 1), changed, out)  # mask as (B, 1, 1, 1)
    return out


def augment_batch(x: torch.Tensor, params: AugmentParams, cfg: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """Apply crop, flip, jitter and grayscale with per-sample ``params`` to a batch in [0, 1].

    Args:
        x: (B, C, H, W) in [0, 1], C in {1, 3}, on any device.
    Returns:
        (B, C, cfg.size, cfg.size) in [0, 1].
    """
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"augment_batch expects (B, C, H, W) with C 1 or 3, got {tuple(x.shape)}")
    if len(params) != x.shape[0]:
        raise ValueError(f"{len(params)} parameter sets for a batch of {x.shape[0]} images")
    y = resized_crop(x, params, cfg.size)
    y = torch.where(params.flip.view(-1, 1, 1, 1), y.flip(-1), y)  # flag as (B, 1, 1, 1)
    y = color_jitter(y, params)
    gray = grayscale(y).expand_as(y)  # (B, C, S, S): luma replicated to every channel
    return torch.where(params.gray.view(-1, 1, 1, 1), gray, y)  # flag as (B, 1, 1, 1)


def two_views(
    x: torch.Tensor, cfg: AugmentConfig = AugmentConfig(), *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independent augmentations of a batch in the model range [-1, 1] (returned in [-1, 1])."""
    unit = (x + 1) / 2  # [-1, 1] -> [0, 1]
    views = []
    for _ in range(2):
        params = sample_params(x.shape[0], x.shape[2], x.shape[3], cfg, device=x.device, generator=generator)
        views.append(augment_batch(unit, params, cfg) * 2 - 1)
    return views[0], views[1]


# ---------------------------------------------------------------- per-image reference (plain torch)


def augment_one(img: torch.Tensor, params: AugmentParams, cfg: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """Reference: the same augmentation for one (C, H, W) image with a batch-of-one ``params``.

    Uses plain slicing, ``F.interpolate`` and scalar blends, one operation after the other.
    """
    if len(params) != 1:
        raise ValueError("augment_one takes the parameters of one image (use params.index(i))")
    t, l, h, w = (int(v) for v in (params.top[0], params.left[0], params.height[0], params.width[0]))
    crop = img[:, t : t + h, l : l + w].unsqueeze(0)  # (1, C, h, w)
    y = torch.nn.functional.interpolate(
        crop, size=(cfg.size, cfg.size), mode="bilinear", align_corners=False, antialias=False
    )[0]  # (C, S, S)
    if bool(params.flip[0]):
        y = y.flip(-1)
    if bool(params.jitter[0]):
        for op in params.order[0].tolist():
            value = float(params.factors[0, op])
            if op == 0:
                y = (y * value).clamp(0, 1)
            elif op == 1:
                mean = _luma_one(y).mean()
                y = (value * y + (1 - value) * mean).clamp(0, 1)
            elif y.shape[0] == 3 and op == 2:
                y = (value * y + (1 - value) * _luma_one(y)).clamp(0, 1)
            elif y.shape[0] == 3 and op == 3:
                hsv = rgb_to_hsv(y.unsqueeze(0))[0]
                hsv[0] = torch.remainder(hsv[0] + value, 1.0)
                y = hsv_to_rgb(hsv.unsqueeze(0))[0]
    if bool(params.gray[0]):
        y = _luma_one(y).expand_as(y).clone()
    return y


def _luma_one(y: torch.Tensor) -> torch.Tensor:
    """(C, H, W) -> (1, H, W) luma."""
    if y.shape[0] == 1:
        return y
    return (LUMA[0] * y[0] + LUMA[1] * y[1] + LUMA[2] * y[2]).unsqueeze(0)
