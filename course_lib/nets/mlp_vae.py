"""The MLP VAE of IFT6135 (Assignment 3, Q1) for binarized MNIST.

Encoder: 784 -> 300 -> ELU -> 300 -> ELU -> 2*D, split into the mean and the log-variance of the
diagonal Gaussian q(z|x). Decoder: D -> 300 -> ELU -> 300 -> ELU -> 784 Bernoulli logits of p(x|z).
The prior p(z) is N(0, I). Students write the ELBO and the importance-sampled log p(x) on top of
:meth:`MLPVAE.encode` and :meth:`MLPVAE.decode`; this module holds no objective.
"""

from __future__ import annotations

import torch
from torch import nn


class MLPVAE(nn.Module):
    """Gaussian-encoder / Bernoulli-decoder MLP VAE.

    Args:
        latent_dim: D, the size of z (100 in IFT6135).
        hidden: width of the two hidden layers of each MLP (300 in IFT6135).
        in_features: P, the number of pixels (784 for 28x28 MNIST).
    """

    def __init__(self, *, latent_dim: int = 100, hidden: int = 300, in_features: int = 784) -> None:
        super().__init__()
        for name, value in (("latent_dim", latent_dim), ("hidden", hidden), ("in_features", in_features)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"MLPVAE {name} must be a positive int, got {value!r}")
        self.latent_dim = latent_dim
        self.in_features = in_features
        self.encoder = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ELU(),
            nn.Linear(hidden, hidden),
            nn.ELU(),
            nn.Linear(hidden, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ELU(),
            nn.Linear(hidden, hidden),
            nn.ELU(),
            nn.Linear(hidden, in_features),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of q(z|x).

        Args:
            x: (B, P) or (B, 1, 28, 28) binary images in {0, 1}.

        Returns:
            ``(mu, logvar)``, each (B, D).
        """
        if x.dim() < 2 or x[0].numel() != self.in_features:
            raise ValueError(f"encode expects (B, {self.in_features}) or (B, 1, 28, 28) images, got {tuple(x.shape)}")
        h = self.encoder(x.reshape(x.shape[0], -1))  # (B, P) -> (B, 2D)
        mu, logvar = h.chunk(2, dim=-1)  # (B, D), (B, D)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of p(x|z).

        Args:
            z: (..., D), e.g. (B, D) or (B, K, D).

        Returns:
            (..., P) logits (not probabilities).
        """
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"decode expects z with last dimension {self.latent_dim}, got {tuple(z.shape)}")
        return self.decoder(z)


def toy_vae(
    *, in_features: int = 12, latent_dim: int = 1, hidden: int = 16, sharpness: float = 4.0, seed: int = 0
) -> MLPVAE:
    """A small randomly initialised MLPVAE with a sharpened decoder, for checks of estimators.

    With ``latent_dim`` 1 or 2 the exact log p(x) can be computed by quadrature, so the ELBO and the
    importance-sampled estimate can be compared with the truth. ``sharpness`` scales the decoder's
    last layer so that p(x|z) depends strongly on z (a random init alone gives nearly flat logits and
    an uninformative test).
    """
    if latent_dim not in (1, 2):
        raise ValueError(f"toy_vae is meant for quadrature checks: latent_dim must be 1 or 2, got {latent_dim!r}")
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = MLPVAE(latent_dim=latent_dim, hidden=hidden, in_features=in_features)
    finally:
        torch.random.set_rng_state(gen_state)
    with torch.no_grad():
        model.decoder[-1].weight.mul_(sharpness)
        model.decoder[-1].bias.mul_(sharpness)
    return model.eval()
