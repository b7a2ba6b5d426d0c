"""Generators and critics of 01_gan.

* ``mlp`` (fast profile, 28x28 grey digits): G: z -> W -> 2W -> 4W -> C*H*W, BatchNorm and ReLU, tanh output;
  D: C*H*W -> 4W -> 2W -> 1, LeakyReLU(0.2). No normalisation layers in the critic, so the gradient
  penalty of WGAN-GP (a per-example gradient) stays well defined.
* ``dcgan`` (full profile, 32x32 colour): G: z -> 4x4x4W -> 8x8x2W -> 16x16xW -> 32x32xC with
  transposed convolutions, BatchNorm and ReLU, tanh output; D: strided 4x4 convolutions with
  LeakyReLU(0.2) and no normalisation layers (Gulrajani et al. 2017: no batch norm in the critic), then a
  linear score.

Both map z of shape (B, D) to images (B, C, H, W) in [-1, 1], and images to scores (B, 1) (logits for
the non-saturating loss, raw scores for LSGAN and the Wasserstein critic). No objective lives here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from course_lib.assignments.gan.profile import GanProfile


class MLPGenerator(nn.Module):
    def __init__(self, *, latent_dim: int = 64, width: int = 256, channels: int = 1, image_size: int = 28) -> None:
        super().__init__()
        self.latent_dim, self.shape = latent_dim, (channels, image_size, image_size)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, width),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Linear(width, 2 * width),
            nn.BatchNorm1d(2 * width),
            nn.ReLU(),
            nn.Linear(2 * width, 4 * width),
            nn.BatchNorm1d(4 * width),
            nn.ReLU(),
            nn.Linear(4 * width, channels * image_size * image_size),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, C, H, W) in [-1, 1]."""
        return self.net(z).view(z.shape[0], *self.shape)


class MLPCritic(nn.Module):
    def __init__(self, *, width: int = 256, channels: int = 1, image_size: int = 28) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(channels * image_size * image_size, 4 * width),
            nn.LeakyReLU(0.2),
            nn.Linear(4 * width, 2 * width),
            nn.LeakyReLU(0.2),
            nn.Linear(2 * width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 1) scores."""
        return self.net(x.reshape(x.shape[0], -1))


class DCGANGenerator(nn.Module):
    def __init__(self, *, latent_dim: int = 128, width: int = 128, channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        if image_size != 32:
            raise ValueError(f"DCGANGenerator makes 32x32 images, got image_size={image_size}")
        self.latent_dim, self.width = latent_dim, width
        self.fc = nn.Sequential(nn.Linear(latent_dim, 4 * 4 * 4 * width), nn.BatchNorm1d(4 * 4 * 4 * width), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),  # 8x8
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(),  # 16x16
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
            nn.Tanh(),  # 32x32
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, C, 32, 32) in [-1, 1]."""
        return self.net(self.fc(z).view(z.shape[0], 4 * self.width, 4, 4))


class DCGANCritic(nn.Module):
    def __init__(self, *, width: int = 128, channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        if image_size != 32:
            raise ValueError(f"DCGANCritic scores 32x32 images, got image_size={image_size}")
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.LeakyReLU(0.2),  # 16x16
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.LeakyReLU(0.2),  # 8x8
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1),
            nn.LeakyReLU(0.2),  # 4x4
            nn.Flatten(),
            nn.Linear(4 * 4 * 4 * width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, 32, 32) -> (B, 1) scores."""
        return self.net(x)


def build_generator(cfg: GanProfile) -> nn.Module:
    """The generator of a GanProfile (``cfg.arch``, ``latent_dim``, ``width``, ``channels``, ``image_size``)."""
    cls = {"mlp": MLPGenerator, "dcgan": DCGANGenerator}[cfg.arch]
    return cls(latent_dim=cfg.latent_dim, width=cfg.width, channels=cfg.channels, image_size=cfg.image_size)


def build_critic(cfg: GanProfile) -> nn.Module:
    """The discriminator / critic of a GanProfile."""
    cls = {"mlp": MLPCritic, "dcgan": DCGANCritic}[cfg.arch]
    return cls(width=cfg.width, channels=cfg.channels, image_size=cfg.image_size)


class GAN(nn.Module):
    """A generator and its critic in one module, so one checkpoint holds both (``.generator``, ``.critic``)."""

    def __init__(self, generator: nn.Module, critic: nn.Module) -> None:
        super().__init__()
        self.generator, self.critic = generator, critic
        self.latent_dim = generator.latent_dim


def build_gan(cfg: GanProfile) -> GAN:
    """Generator and critic of a GanProfile, freshly initialised (seed first for reproducibility)."""
    return GAN(build_generator(cfg), build_critic(cfg))
