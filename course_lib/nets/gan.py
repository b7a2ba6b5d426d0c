"""Generators and critics of 01_gan.

* ``mlp`` (fast profile, 28x28 grey digits): G: z -> W -> 2W -> 4W -> C*H*W, BatchNorm and ReLU, tanh output;
  D: C*H*W -> 4W -> 2W -> 1, LeakyReLU(0.2). No normalisation layers in the critic, so the gradient
  penalty of WGAN-GP (a per-example gradient) stays well defined.
* ``dcgan`` (32x32 colour; the full profile's nets before ``resnet``, still selectable): G: z -> 4x4x4W ->
  8x8x2W -> 16x16xW -> 32x32xC with transposed convolutions, BatchNorm and ReLU, tanh output; D: strided 4x4
  convolutions with LeakyReLU(0.2) and no normalisation layers (Gulrajani et al. 2017: no batch norm in the
  critic), then a linear score.
* ``resnet`` (full profile, 32x32 colour; CMU 16-824's GAN homework, gan/networks.py, after Gulrajani et al. 2017,
  Appendix F): G: z -> 4x4xW, three residual up blocks to 32x32xW (batch norm, ReLU, nearest-neighbour
  upsampling, 3x3 convolutions, a 1x1 convolution on the upsampled shortcut), then BN, ReLU, a 3x3 convolution to C
  and tanh; D: two residual down blocks (mean pooling) to 8x8xW, two plain residual blocks, ReLU, a sum over
  H and W and a linear score. The critic has no normalisation layer, as in the anchor.

All three map z of shape (B, D) to images (B, C, H, W) in [-1, 1], and images to scores (B, 1) (logits for
the non-saturating loss, raw scores for LSGAN and the Wasserstein critic). No objective lives here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
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


def dcgan_critic_trunk(width: int, channels: int, image_size: int, who: str = "DCGANCritic") -> list[nn.Module]:
    """The DCGAN critic's three strided 4x4 convolutions with LeakyReLU(0.2): (B, C, 32, 32) -> (B, 4W, 4, 4)
    (also the conditional GAN's discriminator features, course_lib.nets.cgan)."""
    if image_size != 32:
        raise ValueError(f"{who} scores 32x32 images, got image_size={image_size}")
    return [
        nn.Conv2d(channels, width, 4, 2, 1),
        nn.LeakyReLU(0.2),  # 16x16
        nn.Conv2d(width, 2 * width, 4, 2, 1),
        nn.LeakyReLU(0.2),  # 8x8
        nn.Conv2d(2 * width, 4 * width, 4, 2, 1),
        nn.LeakyReLU(0.2),  # 4x4
    ]


class DCGANCritic(nn.Module):
    def __init__(self, *, width: int = 128, channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            *dcgan_critic_trunk(width, channels, image_size), nn.Flatten(), nn.Linear(4 * 4 * 4 * width, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, 32, 32) -> (B, 1) scores."""
        return self.net(x)


def _upsample(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W), each pixel repeated 2x2 (nearest neighbour)."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


class ResBlockUp(nn.Module):
    """Residual block that doubles H and W: BN, ReLU, 3x3 conv, BN, ReLU, upsample, 3x3 conv; the shortcut
    upsamples and applies a 1x1 conv. (B, C_in, H, W) -> (B, C_out, 2H, 2W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)  # BN follows: no bias
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(self.bn1(x)))  # (B, C_out, H, W)
        h = self.conv2(_upsample(F.relu(self.bn2(h))))  # (B, C_out, 2H, 2W)
        return h + self.shortcut(_upsample(x))


class ResBlockDown(nn.Module):
    """Residual block that halves H and W: ReLU, 3x3 conv, ReLU, 2x2 mean pool, 3x3 conv; the shortcut mean-pools
    and applies a 1x1 conv. No normalisation. (B, C_in, H, W) -> (B, C_out, H/2, W/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(x))  # (B, C_out, H, W)
        h = self.conv2(F.avg_pool2d(F.relu(h), 2))  # (B, C_out, H/2, W/2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class ResBlock(nn.Module):
    """Residual block at constant shape: x + conv(ReLU(conv(ReLU(x)))), 3x3 convs. (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class ResNetGenerator(nn.Module):
    """The anchor's generator (CMU 16-824 GAN homework; Gulrajani et al. 2017, Appendix F, with W = 128)."""

    def __init__(self, *, latent_dim: int = 128, width: int = 128, channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        if image_size != 32:
            raise ValueError(
                f"ResNetGenerator makes 32x32 images (4x4 and three up blocks), got image_size={image_size}"
            )
        self.latent_dim, self.width = latent_dim, width
        self.dense = nn.Linear(latent_dim, width * 4 * 4)  # no BN here: the first block starts with one
        self.blocks = nn.Sequential(ResBlockUp(width, width), ResBlockUp(width, width), ResBlockUp(width, width))
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, C, 32, 32) in [-1, 1]."""
        h = self.dense(z).view(z.shape[0], self.width, 4, 4)  # (B, W, 4, 4)
        return self.out(self.blocks(h))  # (B, W, 32, 32) -> (B, C, 32, 32)


class ResNetCritic(nn.Module):
    """The anchor's discriminator / critic (CMU 16-824 GAN homework; Gulrajani et al. 2017, Appendix F).

    No normalisation layer at all (the anchor has none): batch norm would make one image's score depend on
    the rest of the batch, and the gradient penalty of WGAN-GP needs each score's gradient with respect to
    its own input only (Gulrajani et al. 2017, section 4, "no critic batch normalization"). The paper's
    suggested replacement, layer norm, is left out so the critic is the anchor's, the net its FID targets
    were reached with. Two other details are the anchor's, not the paper's: the first block applies its
    ReLU to the image itself (the shortcut keeps the negative values; the paper's code starts with a conv),
    and the down blocks mean-pool before their second convolution (the paper pools after it).
    """

    def __init__(self, *, width: int = 128, channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        if image_size != 32:
            raise ValueError(f"ResNetCritic scores 32x32 images, got image_size={image_size}")
        self.blocks = nn.Sequential(
            ResBlockDown(channels, width), ResBlockDown(width, width), ResBlock(width), ResBlock(width)
        )
        self.dense = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, 32, 32) -> (B, 1) scores."""
        h = F.relu(self.blocks(x))  # (B, W, 8, 8)
        return self.dense(h.sum(dim=(2, 3)))  # sum pooling: (B, W) -> (B, 1)


def build_generator(cfg: GanProfile) -> nn.Module:
    """The generator of a GanProfile (``cfg.arch``, ``latent_dim``, ``width``, ``channels``, ``image_size``)."""
    cls = {"mlp": MLPGenerator, "dcgan": DCGANGenerator, "resnet": ResNetGenerator}[cfg.arch]
    return cls(latent_dim=cfg.latent_dim, width=cfg.width, channels=cfg.channels, image_size=cfg.image_size)


def build_critic(cfg: GanProfile) -> nn.Module:
    """The discriminator / critic of a GanProfile."""
    cls = {"mlp": MLPCritic, "dcgan": DCGANCritic, "resnet": ResNetCritic}[cfg.arch]
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
