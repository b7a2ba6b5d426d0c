"""The Inception-v3 variant of the FID protocol, built offline (no weights are downloaded here).

FID (Heusel et al., 2017) is defined on the pool3 features of the TensorFlow Inception graph of
2015-12-05. pytorch-fid ports those weights to ``pt_inception-2015-12-05-6726825d.pth`` and patches
torchvision's Inception-v3 where the TensorFlow graph differs: average pools that ignore the zero
padding (``count_include_pad=False``) in the A, C and first E blocks, a max pool in the last E block,
and 1008 output classes. This module rebuilds that architecture from torchvision's blocks so the
state dict of that file loads into it strictly; :mod:`course_lib.metrics.features` loads the
weights and wraps it as a feature extractor. The tests check it against pytorch-fid's own
``InceptionV3`` with the same (random) weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.models import inception as tv_inception


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's 3x3 average pool does not count the zero padding
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(tv_inception.InceptionA):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b5, b3, bp], dim=1)


class FIDInceptionC(tv_inception.InceptionC):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b7, bd, bp], dim=1)


class _FIDInceptionE(tv_inception.InceptionE):
    max_pool = False  # the last E block of the TF graph max-pools its pool branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], dim=1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], dim=1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _tf_avg_pool(x)
        bp = self.branch_pool(pooled)
        return torch.cat([b1, b3, bd, bp], dim=1)


class FIDInceptionE1(_FIDInceptionE):
    max_pool = False


class FIDInceptionE2(_FIDInceptionE):
    max_pool = True


def build_fid_inception() -> tv_inception.Inception3:
    """Inception-v3 with the FID patches, randomly initialised (load the weights separately).

    Returns:
        A torchvision ``Inception3`` (1008 classes, no aux head) whose ``state_dict`` keys and shapes
        match ``pt_inception-2015-12-05-6726825d.pth``.
    """
    net = tv_inception.Inception3(num_classes=1008, aux_logits=False, init_weights=True)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE1(1280)
    net.Mixed_7c = FIDInceptionE2(2048)
    return net


def pool3_features(net: tv_inception.Inception3, x: torch.Tensor) -> torch.Tensor:
    """The 2048-d pool3 features of (B, 3, 299, 299) inputs in [-1, 1] -> (B, 2048).

    Follows pytorch-fid's block order: stem, max pool, 1x1/3x3 convs, max pool, Mixed_5b..Mixed_7c,
    global average pool (no dropout, no fc).
    """
    x = net.Conv2d_1a_3x3(x)
    x = net.Conv2d_2a_3x3(x)
    x = net.Conv2d_2b_3x3(x)
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    x = net.Conv2d_3b_1x1(x)
    x = net.Conv2d_4a_3x3(x)
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    for name in (
        "Mixed_5b",
        "Mixed_5c",
        "Mixed_5d",
        "Mixed_6a",
        "Mixed_6b",
        "Mixed_6c",
        "Mixed_6d",
        "Mixed_6e",
        "Mixed_7a",
        "Mixed_7b",
        "Mixed_7c",
    ):
        x = getattr(net, name)(x)
    return F.adaptive_avg_pool2d(x, 1).flatten(1)  # (B, 2048)
