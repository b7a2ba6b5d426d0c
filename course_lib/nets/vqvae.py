"""The VQ-VAE of 06_vqvae (van den Oord et al. 2017): a convolutional encoder to a (B, D, H/4, W/4) map, a
codebook of K vectors in R^D, and a decoder back to (B, C, H, W) (a linear output that the squared error pulls
to the images' range [-1, 1]).

The quantiser itself (nearest code, straight-through estimator) is the student's: the net only holds the
codebook as a parameter (K, D) and offers :meth:`VQVAE.encode` / :meth:`VQVAE.decode`, so the training loop
(course_lib.assignments.vqvae.train) runs ``decode(quantize(encode(x), codebook))`` with the student's function.
"""

from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    """x + conv1x1(relu(conv3x3(relu(x)))), the paper's residual block (Section 4.1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class VQVAE(nn.Module):
    """Encoder (two stride-2 convolutions, ``res_blocks`` residual blocks, a 1x1 convolution to D channels),
    codebook (K, D), decoder (the mirror image, linear output: with a tanh, the output saturated at the
    background's -1 early in some seeds' runs and never learnt again).

    Args:
        in_channels: C of the images.
        widths: channels of the two downsampling convolutions, e.g. (32, 64).
        code_dim: D, the length of each code vector.
        codebook_size: K, the number of code vectors.
        res_blocks: residual blocks after the encoder's and before the decoder's convolutions.
    """

    def __init__(
        self, *, in_channels: int, widths: tuple[int, int], code_dim: int, codebook_size: int, res_blocks: int = 1
    ) -> None:
        super().__init__()
        if len(widths) != 2:
            raise ValueError(f"widths must hold two channel counts (one per downsampling step), got {widths}")
        if code_dim < 1 or codebook_size < 2:
            raise ValueError(f"code_dim must be >= 1 and codebook_size >= 2, got {code_dim} and {codebook_size}")
        w1, w2 = widths
        self.code_dim, self.codebook_size = code_dim, codebook_size
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, w1, 4, stride=2, padding=1),  # (B, w1, H/2, W/2)
            nn.ReLU(),
            nn.Conv2d(w1, w2, 4, stride=2, padding=1),  # (B, w2, H/4, W/4)
            *[ResBlock(w2) for _ in range(res_blocks)],
            nn.ReLU(),
            nn.Conv2d(w2, code_dim, 1),  # (B, D, H/4, W/4)
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim, w2, 3, padding=1),
            *[ResBlock(w2) for _ in range(res_blocks)],
            nn.ReLU(),
            nn.ConvTranspose2d(w2, w1, 4, stride=2, padding=1),  # (B, w1, H/2, W/2)
            nn.ReLU(),
            nn.ConvTranspose2d(w1, in_channels, 4, stride=2, padding=1),  # (B, C, H, W)
        )
        # the paper's codebook e in R^{K x D}; uniform in [-1/K, 1/K] as in the authors' Sonnet code
        self.codebook = nn.Parameter(
            torch.empty(codebook_size, code_dim).uniform_(-1 / codebook_size, 1 / codebook_size)
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z_e(x): (B, C, H, W) -> (B, D, H/4, W/4)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D, H/4, W/4) -> (B, C, H, W), unbounded (clamp to [-1, 1] to show it; course_lib.viz does)."""
        return self.decoder(z)


def to_vectors(z: torch.Tensor) -> torch.Tensor:
    """A code map as one D-vector per position: (B, D, h, w) -> (B h w, D)."""
    B, D, h, w = z.shape
    return z.permute(0, 2, 3, 1).reshape(B * h * w, D)  # (B*h*w, D)


def to_map(vectors: torch.Tensor, B: int, h: int, w: int) -> torch.Tensor:
    """The inverse of :func:`to_vectors`: (B h w, D) -> (B, D, h, w)."""
    D = vectors.shape[-1]
    return vectors.reshape(B, h, w, D).permute(0, 3, 1, 2)  # (B, D, h, w)
