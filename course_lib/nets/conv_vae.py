"""Convolutional encoder / decoder of the AE and VAE assignment (CMU 16-824 vae/ homework).

Encoder: conv ``C -> w1`` (stride 1), then three stride-2 convs ``w1 -> w2 -> w3 -> w4`` with ReLU
between them, flattened and mapped by one linear layer to the latent code. The VAE encoder's linear
layer outputs ``2 D`` numbers split into ``(mu, log_std)``; the AE encoder outputs ``D``.
Decoder (the mirror): linear ``D -> w4 * H/8 * W/8``, ReLU, three stride-2 transposed convs
``w4 -> w3 -> w2 -> w1`` with ReLU, and a final conv ``w1 -> C`` with no output activation (the
squared-error loss compares it with images in [-1, 1]).

The anchor's widths are ``(32, 64, 128, 256)`` on 3x32x32 CIFAR-10; the fast profile uses narrower
widths on 1x32x32 MNIST (28x28 digits padded with the background value).
"""

from __future__ import annotations

import torch
from torch import nn

ANCHOR_WIDTHS = (32, 64, 128, 256)


def _check(*, in_channels: int, image_size: int, latent_dim: int, widths: tuple[int, ...]) -> None:
    if not (isinstance(in_channels, int) and in_channels > 0):
        raise ValueError(f"in_channels must be a positive int, got {in_channels!r}")
    if not (isinstance(image_size, int) and image_size > 0 and image_size % 8 == 0):
        raise ValueError(f"image_size must be a positive multiple of 8 (three stride-2 convs), got {image_size!r}")
    if not (isinstance(latent_dim, int) and latent_dim > 0):
        raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
    if len(widths) != 4 or not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"widths must be 4 positive ints (e.g. {ANCHOR_WIDTHS}), got {widths!r}")


class ConvEncoder(nn.Module):
    """Images -> latent code (AE) or ``(mu, log_std)`` (VAE).

    Args:
        in_channels: C of the images.
        image_size: H = W of the images (a multiple of 8).
        latent_dim: D.
        widths: channel widths of the four convs.
        variational: output ``(mu, log_std)`` (each (B, D)) instead of one (B, D) code.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        image_size: int = 32,
        latent_dim: int,
        widths: tuple[int, ...] = ANCHOR_WIDTHS,
        variational: bool = True,
    ) -> None:
        super().__init__()
        _check(in_channels=in_channels, image_size=image_size, latent_dim=latent_dim, widths=tuple(widths))
        w1, w2, w3, w4 = widths
        self.in_channels, self.image_size, self.latent_dim = in_channels, image_size, latent_dim
        self.variational = variational
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, w1, 3, stride=1, padding=1),
            nn.ReLU(),
            nn.Conv2d(w1, w2, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(w2, w3, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(w3, w4, 3, stride=2, padding=1),
        )
        self.conv_out_dim = w4 * (image_size // 8) ** 2
        self.fc = nn.Linear(self.conv_out_dim, (2 if variational else 1) * latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C, H, W) in [-1, 1] -> (B, D) code, or ``(mu, log_std)`` each (B, D)."""
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"encoder expects images of shape (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}"
            )
        h = self.convs(x).flatten(1)  # (B, w4 * H/8 * W/8)
        out = self.fc(h)  # (B, D) or (B, 2D)
        if not self.variational:
            return out
        mu, log_std = out.chunk(2, dim=1)  # (B, D), (B, D)
        return mu, log_std


class ConvDecoder(nn.Module):
    """Latent code (B, D) -> images (B, C, H, W) (unbounded; the data live in [-1, 1])."""

    def __init__(
        self, *, out_channels: int = 3, image_size: int = 32, latent_dim: int, widths: tuple[int, ...] = ANCHOR_WIDTHS
    ) -> None:
        super().__init__()
        _check(in_channels=out_channels, image_size=image_size, latent_dim=latent_dim, widths=tuple(widths))
        w1, w2, w3, w4 = widths
        self.latent_dim = latent_dim
        self.base_shape = (w4, image_size // 8, image_size // 8)
        self.fc = nn.Linear(latent_dim, w4 * (image_size // 8) ** 2)
        self.deconvs = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(w4, w3, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(w3, w2, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(w2, w1, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(w1, out_channels, 3, stride=1, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"decoder expects codes of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        h = self.fc(z).view(z.shape[0], *self.base_shape)  # (B, w4, H/8, W/8)
        return self.deconvs(h)  # (B, C, H, W)


class AutoEncoder(nn.Module):
    """Deterministic autoencoder: ``decoder(encoder(x))``. Attributes ``encoder``, ``decoder``, ``latent_dim``."""

    variational = False

    def __init__(
        self, *, in_channels: int = 3, image_size: int = 32, latent_dim: int, widths: tuple[int, ...] = ANCHOR_WIDTHS
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = ConvEncoder(
            in_channels=in_channels, image_size=image_size, latent_dim=latent_dim, widths=widths, variational=False
        )
        self.decoder = ConvDecoder(
            out_channels=in_channels, image_size=image_size, latent_dim=latent_dim, widths=widths
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code used by the widgets: (B, C, H, W) -> (B, D)."""
        return self.encoder(x)


class VAE(nn.Module):
    """Variational autoencoder: ``encoder(x) -> (mu, log_std)``, ``decoder(z) -> x_hat``.

    The sampling step (the reparameterization trick) is the student's function, so this module has
    no ``forward`` that samples; ``encode`` returns the posterior mean used by the widgets.
    """

    variational = True

    def __init__(
        self, *, in_channels: int = 3, image_size: int = 32, latent_dim: int, widths: tuple[int, ...] = ANCHOR_WIDTHS
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = ConvEncoder(
            in_channels=in_channels, image_size=image_size, latent_dim=latent_dim, widths=widths, variational=True
        )
        self.decoder = ConvDecoder(
            out_channels=in_channels, image_size=image_size, latent_dim=latent_dim, widths=widths
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior mean: (B, C, H, W) -> (B, D)."""
        mu, _log_std = self.encoder(x)
        return mu


def build_model(kind: str, *, latent_dim: int, in_channels: int, image_size: int, widths: tuple[int, ...]) -> nn.Module:
    """``kind`` ``"ae"`` -> :class:`AutoEncoder`, ``"vae"`` -> :class:`VAE`."""
    if kind == "ae":
        return AutoEncoder(in_channels=in_channels, image_size=image_size, latent_dim=latent_dim, widths=widths)
    if kind == "vae":
        return VAE(in_channels=in_channels, image_size=image_size, latent_dim=latent_dim, widths=widths)
    raise ValueError(f"unknown model kind {kind!r}; expected 'ae' or 'vae'")
