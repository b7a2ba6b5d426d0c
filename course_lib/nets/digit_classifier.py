"""A small CNN digit classifier: the offline feature extractor behind the course's digit FID.

Trained on the ``mnist5k`` train split by ``scripts/train_digit_classifier.py``; the weights ship
as ``course_lib/assets/digit_classifier.pt`` (see its JSON sidecar for the accuracy and the command
that reproduces it). The FID features are the penultimate layer (``fc1``, after its ReLU), the
digit analogue of Inception's pool3 features (Heusel et al., 2017, "GANs trained by a two
time-scale update rule converge to a local Nash equilibrium", Sec. 3).

Inputs may be any size and have 1 or 3 channels, in [-1, 1]: colour is converted to grey
(ITU-R BT.601 luma) and the image is resized bilinearly to 28x28, so 16x16 or 32x32 samples of a
diffusion model and 28x28 MNIST digits all go through the same network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DIGIT_RESOLUTION = 28
DIGIT_FEATURES = 128
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B


def to_digit_input(images: torch.Tensor) -> torch.Tensor:
    """Bring images to the classifier's input: grey, 28x28, float32, clamped to [-1, 1].

    Args:
        images: (B, C, H, W) with C = 1 or 3, values in [-1, 1].

    Returns:
        (B, 1, 28, 28) float32 in [-1, 1].
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"expected images of shape (B, C, H, W) with C = 1 or 3, got {tuple(images.shape)}; "
            "add a channel axis with images.unsqueeze(1) for (B, H, W) digits"
        )
    x = images.to(torch.float32).clamp(-1.0, 1.0)
    if x.shape[1] == 3:
        luma = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = (x * luma).sum(dim=1, keepdim=True)  # (B, 1, H, W)
    if x.shape[-2:] != (DIGIT_RESOLUTION, DIGIT_RESOLUTION):
        x = F.interpolate(
            x, size=(DIGIT_RESOLUTION, DIGIT_RESOLUTION), mode="bilinear", align_corners=False, antialias=True
        )  # (B, 1, 28, 28)
    return x


class DigitClassifier(nn.Module):
    """Three conv blocks and two linear layers: (B, C, H, W) in [-1, 1] -> (B, 10) logits.

    conv3x3(32)-ReLU-maxpool (14x14), conv3x3(64)-ReLU-maxpool (7x7), conv3x3(64)-ReLU-maxpool
    (3x3), flatten (576), fc1 (128)-ReLU = the features, dropout, fc2 (10) = the logits.
    """

    def __init__(self, *, width: int = 32, features: int = DIGIT_FEATURES, dropout: float = 0.3):
        super().__init__()
        if width < 1 or features < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"need width >= 1, features >= 1 and 0 <= dropout < 1, got {width}, {features}, {dropout}")
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 2 * width, 3, padding=1)
        self.fc1 = nn.Linear(2 * width * 3 * 3, features)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(features, 10)
        self.num_features = features

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features: (B, C, H, W) in [-1, 1] -> (B, F) float32, F = 128."""
        x = to_digit_input(images)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, w, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, 2w, 7, 7)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)  # (B, 2w, 3, 3)
        x = x.flatten(1)  # (B, 2w * 9)
        return F.relu(self.fc1(x))  # (B, F)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits: (B, C, H, W) in [-1, 1] -> (B, 10)."""
        return self.fc2(self.dropout(self.features(images)))


@torch.no_grad()
def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 500) -> float:
    """Top-1 accuracy of ``model`` (put in eval mode) on (N, C, H, W) images and (N,) labels."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, images.shape[0], batch_size):
        logits = model(images[start : start + batch_size].to(device))  # (B, 10)
        correct += (logits.argmax(dim=1).cpu() == labels[start : start + batch_size]).sum().item()
    return correct / images.shape[0]
