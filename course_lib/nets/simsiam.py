"""SimSiam networks: backbone f, projector (f's MLP head) and predictor h (Chen and He, 2021).

* ``CifarResNet18``: ResNet-18 with the CIFAR stem (3x3 conv, stride 1, no max-pool), 512-d features
  (the backbone of the paper's CIFAR experiments, Appendix D).
* ``SmallConvNet``: a 4-conv backbone for the fast profile (16x16 or 28x28 digits on a CPU).
* ``projection_mlp``: 3 layers, BN on every fc including the output fc (paper Sec. 4).
* ``prediction_mlp``: 2-layer bottleneck d -> d/4 -> d, BN on the hidden layer only (paper Sec. 4).
* ``SimSiamNet``: ``encoder = backbone + projector`` and ``predictor`` (``nn.Identity`` for the
  ablation of Table 1a, ``predictor="identity"``).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class SimSiamNetConfig:
    """Architecture settings.

    Attributes:
        backbone: ``"resnet18"`` (CIFAR ResNet-18) or ``"small"`` (4-conv fast backbone).
        in_channels: image channels (3 for CIFAR-10, 1 for digits).
        width: channels of the first stage of the small backbone (doubling twice).
        proj_dim: output dimension d of the projector (2048 in the paper).
        proj_hidden: hidden width of the projector.
        pred_hidden: bottleneck width of the predictor (d/4 in the paper).
        predictor: ``"mlp"`` or ``"identity"`` (the ablation).
    """

    backbone: str = "resnet18"
    in_channels: int = 3
    width: int = 32
    proj_dim: int = 2048
    proj_hidden: int = 2048
    pred_hidden: int = 512
    predictor: str = "mlp"

    def __post_init__(self):
        if self.backbone not in ("resnet18", "small"):
            raise ValueError(f"unknown backbone {self.backbone!r}; expected 'resnet18' or 'small'")
        if self.predictor not in ("mlp", "identity"):
            raise ValueError(f"unknown predictor {self.predictor!r}; expected 'mlp' or 'identity'")
        for name in ("in_channels", "width", "proj_dim", "proj_hidden", "pred_hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive int, got {getattr(self, name)}")


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with BN, identity or 1x1 projection shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class CifarResNet18(nn.Module):
    """ResNet-18 for 32x32 inputs: (B, C, 32, 32) -> (B, 512) after global average pooling."""

    out_dim = 512

    def __init__(self, in_channels: int = 3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        layers, c_in = [], 64
        for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1)]
            c_in = c_out
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layers(self.stem(x))  # (B, 512, H/8, W/8)
        return h.mean(dim=(2, 3))  # (B, 512)


class SmallConvNet(nn.Module):
    """Four 3x3 convs with BN and ReLU (widths w, 2w, 2w, 4w; two stride-2), global average pool.

    (B, C, H, W) -> (B, 4w).
    """

    def __init__(self, in_channels: int = 1, width: int = 32):
        super().__init__()
        w = width
        spec = [(in_channels, w, 1), (w, 2 * w, 2), (2 * w, 2 * w, 1), (2 * w, 4 * w, 2)]
        self.convs = nn.Sequential(
            *[
                m
                for c_in, c_out, s in spec
                for m in (nn.Conv2d(c_in, c_out, 3, s, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())
            ]
        )
        self.out_dim = 4 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x).mean(dim=(2, 3))  # (B, 4w)


def projection_mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """Projector: 3 fc layers, BN on each (including the output), ReLU on the hidden two."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden, bias=False),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden, bias=False),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Linear(hidden, out_dim, bias=False),
        nn.BatchNorm1d(out_dim),
    )


def prediction_mlp(dim: int, hidden: int) -> nn.Sequential:
    """Predictor h: d -> hidden (BN, ReLU) -> d, no BN on the output (paper Sec. 4)."""
    return nn.Sequential(nn.Linear(dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, dim))


class SimSiamNet(nn.Module):
    """Backbone + projector (``encoder``, f in the paper) and predictor (h).

    Attributes:
        backbone: images (B, C, H, W) -> features (B, F), used by the kNN monitor.
        projector: (B, F) -> (B, d).
        encoder: ``nn.Sequential(backbone, projector)``: images -> z (B, d).
        predictor: z (B, d) -> p (B, d); ``nn.Identity`` for the no-predictor ablation.
    """

    def __init__(self, cfg: SimSiamNetConfig = SimSiamNetConfig()):
        super().__init__()
        self.cfg = cfg
        if cfg.backbone == "resnet18":
            backbone = CifarResNet18(cfg.in_channels)
        else:
            backbone = SmallConvNet(cfg.in_channels, cfg.width)
        projector = projection_mlp(backbone.out_dim, cfg.proj_hidden, cfg.proj_dim)
        self.encoder = nn.Sequential(backbone, projector)
        self.predictor = prediction_mlp(cfg.proj_dim, cfg.pred_hidden) if cfg.predictor == "mlp" else nn.Identity()

    @property
    def backbone(self) -> nn.Module:
        return self.encoder[0]

    @property
    def projector(self) -> nn.Module:
        return self.encoder[1]

    @property
    def feature_dim(self) -> int:
        return self.encoder[0].out_dim
