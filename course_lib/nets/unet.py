"""A small time-conditioned U-Net that predicts the noise eps in x_t (Ho et al. 2020, Appendix B).

``UNet(in_channels, base, mults)``: at each resolution one residual block (GroupNorm, SiLU, 3x3 conv,
plus a projection of the time embedding) then a stride-2 downsampling; a middle block (two residual
blocks around an optional self-attention); the mirror path upsamples (nearest + 3x3 conv) and
concatenates the skip connections. The time step t (long, (B,)) enters through a sinusoidal embedding
(Vaswani et al. 2017) and a two-layer MLP.

``model(x_t, t)``: (B, C, H, W), (B,) -> (B, C, H, W); H and W divisible by 2^(len(mults) - 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer time steps: (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)  # (dim/2,)
    args = t.float().unsqueeze(1) * freqs.unsqueeze(0)  # (B, dim/2)
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)  # (B, dim)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the time embedding added in between, and a residual path."""

    def __init__(self, in_ch: int, out_ch: int, time_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.conv1 = _norm(in_ch), nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time = nn.Linear(time_dim, out_ch)
        self.norm2, self.conv2 = _norm(out_ch), nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, out, H, W)
        h = h + self.time(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)


class Attention(nn.Module):
    """Single-head self-attention over the H*W positions, with a residual path."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = _norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).view(B, 3, C, H * W).unbind(1)  # each (B, C, HW)
        h = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))  # (B, HW, C)
        return x + self.out(h.transpose(1, 2).reshape(B, C, H, W))


class UNet(nn.Module):
    """Noise-prediction U-Net.

    Args:
        in_channels: C of the images (1 for digits, 3 for CIFAR-10).
        base: channels at the first resolution.
        mults: channel multiplier per resolution (len(mults) - 1 downsamplings).
        attention: add self-attention in the middle block.
        dropout: dropout inside the residual blocks.
    """

    def __init__(
        self,
        in_channels: int = 1,
        *,
        base: int = 32,
        mults: tuple[int, ...] = (1, 2, 2),
        attention: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.in_channels, self.base, self.mults = in_channels, base, tuple(mults)
        time_dim = 4 * base
        self.time_mlp = nn.Sequential(nn.Linear(base, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        self.stem = nn.Conv2d(in_channels, base, 3, padding=1)
        chans = [base * m for m in mults]
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        prev = base
        for i, ch in enumerate(chans):
            self.down.append(ResBlock(prev, ch, time_dim, dropout))
            last = i == len(chans) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(ch, ch, 3, stride=2, padding=1))
            prev = ch
        self.mid1 = ResBlock(prev, prev, time_dim, dropout)
        self.mid_attn = Attention(prev) if attention else nn.Identity()
        self.mid2 = ResBlock(prev, prev, time_dim, dropout)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, ch in reversed(list(enumerate(chans))):
            self.up.append(ResBlock(prev + ch, ch, time_dim, dropout))
            self.upsample.append(nn.Identity() if i == 0 else nn.Conv2d(ch, chans[i - 1], 3, padding=1))
            prev = ch if i == 0 else chans[i - 1]
        self.out = nn.Sequential(_norm(prev), nn.SiLU(), nn.Conv2d(prev, in_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """eps prediction: x (B, C, H, W), t (B,) long -> (B, C, H, W)."""
        if t.dim() != 1 or t.shape[0] != x.shape[0]:
            raise ValueError(f"t must have shape (B,) = ({x.shape[0]},), got {tuple(t.shape)}")
        temb = self.time_mlp(timestep_embedding(t, self.base))  # (B, 4 base)
        h = self.stem(x)  # (B, base, H, W)
        skips = []
        for block, down in zip(self.down, self.downsample):
            h = block(h, temb)
            skips.append(h)
            h = down(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        for block, up in zip(self.up, self.upsample):
            h = block(torch.cat([h, skips.pop()], dim=1), temb)  # (B, prev + ch, H', W') -> (B, ch, H', W')
            if not isinstance(up, nn.Identity):
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(h)


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
