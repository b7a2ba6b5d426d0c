"""Class-conditional generators and projection discriminators of 07_cgan.

The generator is an unconditional one from :mod:`course_lib.nets.gan` whose input is z concatenated with the
one-hot class, (B, D + K) (Mirza and Osindero 2014): the concatenation is the student's ``generator_input``, so the
net only sees a wider latent. The discriminator is split the way the projection discriminator (Miyato and Koyama
2018, eq. 3) needs it, and the student's ``projection_logits`` joins the parts:

* ``features(x)``: phi(x), (B, C, H, W) -> (B, F);
* ``psi``: the unconditional head, ``nn.Linear(F, 1)``;
* ``embedding``: the class embeddings V, ``nn.Embedding(K, F)``; the logit is psi(phi(x)) + <V[y], phi(x)>.

* ``mlp`` (fast profile, 28x28 grey digits): G is 01's MLP generator with a (D + K)-wide input; phi is C*H*W -> 4W ->
  2W with LeakyReLU(0.2) (01's MLP critic without its last layer), F = 2W.
* ``dcgan`` (full profile, 32x32 colour): G is 01's DCGAN generator with a (D + K)-wide input; phi is 01's DCGAN
  critic's three strided convolutions with LeakyReLU(0.2), summed over H and W (the paper's global sum pooling),
  F = 4W.

No normalisation layer in phi: batch norm would make one image's logit depend on the rest of its batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from course_lib.nets.gan import DCGANGenerator, MLPGenerator, dcgan_critic_trunk

if TYPE_CHECKING:
    from course_lib.assignments.cgan.profile import CGANProfile

ARCHS = ("mlp", "dcgan")


class ConditionalGenerator(nn.Module):
    """An image generator fed ``generator_input(z, y, K)``: (B, D + K) -> (B, C, H, W) in [-1, 1].

    ``latent_dim`` is D (the size of z alone) and ``n_classes`` is K; the wrapped net's input is D + K wide.
    """

    def __init__(self, net: nn.Module, *, latent_dim: int, n_classes: int) -> None:
        super().__init__()
        self.net, self.latent_dim, self.n_classes = net, latent_dim, n_classes

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """(B, D + K) -> (B, C, H, W)."""
        if h.dim() != 2 or h.shape[1] != self.latent_dim + self.n_classes:
            raise ValueError(
                f"the generator reads (B, {self.latent_dim + self.n_classes}) inputs (z and the one-hot class), "
                f"got {tuple(h.shape)}"
            )
        return self.net(h)


class ProjectionDiscriminator(nn.Module):
    """phi (``features``), psi and the class embedding of a projection discriminator (Miyato and Koyama 2018).

    It has no ``forward``: the logit psi(phi(x)) + <embedding(y), phi(x)> is the student's ``projection_logits``.
    """

    def __init__(self, features: nn.Module, *, feature_dim: int, n_classes: int) -> None:
        super().__init__()
        self.phi, self.feature_dim, self.n_classes = features, feature_dim, n_classes
        self.psi = nn.Linear(feature_dim, 1)
        self.embedding = nn.Embedding(n_classes, feature_dim)
        nn.init.normal_(self.embedding.weight, std=feature_dim**-0.5)  # <V[y], phi> starts at psi's scale

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): (B, C, H, W) -> (B, F)."""
        return self.phi(x)


class _SumPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=(2, 3))  # (B, C, H, W) -> (B, C)


def mlp_features(*, width: int, channels: int, image_size: int) -> nn.Module:
    """phi of the ``mlp`` discriminator: (B, C, H, W) -> (B, 2W)."""
    return nn.Sequential(
        nn.Flatten(),  # (B, C*H*W)
        nn.Linear(channels * image_size * image_size, 4 * width),
        nn.LeakyReLU(0.2),
        nn.Linear(4 * width, 2 * width),
        nn.LeakyReLU(0.2),
    )


def dcgan_features(*, width: int, channels: int, image_size: int) -> nn.Module:
    """phi of the ``dcgan`` discriminator: 01's DCGAN critic trunk, then global sum pooling: (B, C, 32, 32) -> (B, 4W)."""
    return nn.Sequential(*dcgan_critic_trunk(width, channels, image_size, "the dcgan discriminator"), _SumPool())


def build_generator(cfg: CGANProfile) -> ConditionalGenerator:
    """The conditional generator of a CGANProfile (``arch``, ``latent_dim``, ``n_classes``, ``width``...)."""
    if cfg.arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(map(repr, ARCHS))}, got {cfg.arch!r}")
    cls = {"mlp": MLPGenerator, "dcgan": DCGANGenerator}[cfg.arch]
    net = cls(
        latent_dim=cfg.latent_dim + cfg.n_classes, width=cfg.width, channels=cfg.channels, image_size=cfg.image_size
    )
    return ConditionalGenerator(net, latent_dim=cfg.latent_dim, n_classes=cfg.n_classes)


def build_discriminator(cfg: CGANProfile) -> ProjectionDiscriminator:
    """The projection discriminator of a CGANProfile."""
    if cfg.arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(map(repr, ARCHS))}, got {cfg.arch!r}")
    make, dim = {"mlp": (mlp_features, 2 * cfg.width), "dcgan": (dcgan_features, 4 * cfg.width)}[cfg.arch]
    phi = make(width=cfg.width, channels=cfg.channels, image_size=cfg.image_size)
    return ProjectionDiscriminator(phi, feature_dim=dim, n_classes=cfg.n_classes)


class CGAN(nn.Module):
    """A conditional generator and its projection discriminator in one module (one checkpoint holds both)."""

    def __init__(self, generator: ConditionalGenerator, discriminator: ProjectionDiscriminator) -> None:
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.n_classes = generator.latent_dim, generator.n_classes


def build_cgan(cfg: CGANProfile) -> CGAN:
    """Generator and discriminator of a CGANProfile, freshly initialised (seed first for reproducibility)."""
    return CGAN(build_generator(cfg), build_discriminator(cfg))
