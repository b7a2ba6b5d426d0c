"""Devices everywhere: no extractor, evaluator, loader or training loop defaults to the CPU.

Where the library takes ``device=None`` it asks :func:`course_lib.device.get_device` (CUDA when there is
one). The check below reads the signatures themselves (the independent source: what a caller gets
without passing a device), and runs two of them on PyTorch's ``meta`` device, standing in for a GPU
this machine does not have.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
import torch

from course_lib.profiles import ASSIGNMENT_MODULES as SHORT

# every module whose public functions compute on a device (course_lib's and the graders' references)
MODULES = [
    "course_lib.diffusion",
    "course_lib.metrics.features",
    "course_lib.metrics.fid",
    "course_lib.metrics.knn",
    "course_lib.assignments.diffusion.widgets",
    *(f"course_lib.assignments.{a}.train" for a in SHORT.values()),
    *(f"autograder.assignments.{a}.reference" for a in SHORT.values()),
]


def _device_defaults():
    for name in MODULES:
        module = importlib.import_module(name)
        for fname, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != name:
                continue
            param = inspect.signature(fn).parameters.get("device")
            if param is not None and param.default is not inspect.Parameter.empty:
                yield f"{name}.{fname}", param.default


def test_no_function_defaults_to_the_cpu():
    defaults = dict(_device_defaults())
    assert len(defaults) > 20  # the scan found the functions it is about
    assert {k: v for k, v in defaults.items() if v is not None} == {}


def test_get_device_takes_a_torch_device_and_the_environment(monkeypatch):
    from course_lib.device import get_device

    assert get_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        get_device("tpu")


def test_extractors_are_built_on_get_device(monkeypatch):
    """get_extractor without a device (as 03_diffusion's notebook builds it) lands where get_device says."""
    from course_lib.metrics import features

    monkeypatch.setattr(
        features, "get_device", lambda name=None: torch.device("meta") if name is None else torch.device(name)
    )
    digits = features.get_extractor("digits")
    assert {p.device.type for p in digits.parameters()} == {"meta"}
    assert {p.device.type for p in features.get_extractor("digits", device="cpu").parameters()} == {"cpu"}


def test_graded_loaders_put_the_model_on_get_device(monkeypatch, tmp_path):
    """load_unet (what every graded diffusion cell loads through) with no device follows get_device."""
    from course_lib import diffusion
    from course_lib.profiles import get_profile

    cfg = get_profile("03_diffusion", "fast")
    model = diffusion.load_unet(diffusion.pretrained_path(cfg.pretrained), cfg, device="cpu")
    assert next(model.parameters()).device.type == "cpu"
    monkeypatch.setattr(diffusion, "get_device", lambda name=None: torch.device("meta"))
    model = diffusion.load_unet(diffusion.pretrained_path(cfg.pretrained), cfg)
    assert next(model.parameters()).device.type == "meta"
