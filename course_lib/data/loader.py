"""TensorLoader: batches from tensors that live on the device, shuffled with randperm.

On a GPU this replaces ``torch.utils.data.DataLoader`` for the course's small data sets: the whole set
is copied to the device once, so a batch costs one index operation and no worker processes. When
the set does not fit (``max_fraction`` of the free device memory), it stays in pinned host memory and
each batch is copied asynchronously.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


class TensorLoader:
    """Iterate over aligned tensors in (optionally shuffled) mini-batches.

    Args:
        *tensors: tensors with the same first dimension N.
        batch_size: examples per batch.
        shuffle: draw a fresh permutation each epoch.
        drop_last: drop the last incomplete batch.
        device: where batches are produced (default: where the tensors are).
        generator: a CPU ``torch.Generator`` for reproducible shuffling.
        max_fraction: the share of free device memory the data may take before it is streamed.

    Yields:
        A tuple of batches (or a single batch when one tensor was given).
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
        max_fraction: float = 0.5,
    ) -> None:
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError(f"all tensors need the same first dimension; got {[tuple(t.shape) for t in tensors]}")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.device = torch.device(device) if device is not None else tensors[0].device
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.n = n
        nbytes = sum(t.element_size() * t.numel() for t in tensors)
        self.resident = self.device.type == "cpu" or nbytes <= max_fraction * _free_bytes(self.device)
        if self.resident:
            self.tensors = tuple(t.to(self.device) for t in tensors)
        else:
            self.tensors = tuple(t.cpu().pin_memory() for t in tensors)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator:
        if self.shuffle:
            order = torch.randperm(self.n, generator=self.generator)
        else:
            order = torch.arange(self.n)
        if self.resident:
            order = order.to(self.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            batch = tuple(t[idx].to(self.device, non_blocking=True) for t in self.tensors)
            yield batch[0] if len(batch) == 1 else batch


def _free_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free
    return 0
