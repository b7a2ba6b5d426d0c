"""A pretrained DDPM eps-model in diffusers' format, read from a local folder (never downloaded).

The full profile of 03_diffusion samples from the DDPM paper's CIFAR-10 model (Ho et al. 2020), as
Google published it in diffusers' format: https://huggingface.co/google/ddpm-cifar10-32, a
``UNet2DModel`` (35.7M parameters, 32x32x3, epsilon prediction) trained with Ho et al.'s linear betas
1e-4 .. 0.02 and T = 1000. :func:`load_pretrained_ddpm` reads such a folder and returns a module with the
call signature the course's step functions expect of an eps-model: ``model(x_t, t) -> eps``, with t a
(B,) long tensor in 0 .. T-1. diffusers' ``UNet2DModel(sample, timestep)`` and its schedulers use the
same convention (``alphas_cumprod[t]`` = alpha-bar of the (t+1)-th noising step, t = 0 the least
noisy), so t is passed through unchanged.

Before loading, the folder is checked against what the course assumes: ``config.json`` describes a
``UNet2DModel`` of the profile's image size and channels; ``scheduler_config.json`` gives the betas the
model was trained with, which must equal the profile's (``beta_schedule(cfg.schedule, cfg.timesteps)``),
and epsilon prediction. The sampler's variance choice (``variance_type``: the card says ``fixed_large``,
sigma^2 = beta_t; the course's ``p_sample`` uses beta-tilde_t, ``fixed_small``) is not a property of the
trained network and is not checked: Ho et al. (Sec. 3.2) report similar results for both.

Where: ``<data root>/<model id>``, e.g. ``~/.cache/dgm-course/data/google/ddpm-cifar10-32/`` (the data
root is ``$COURSE_DATA`` when set, as for the data sets). A missing folder or file raises
:class:`PretrainedMissingError` naming the files, their sizes, where to fetch them and where to put them.
diffusers is needed only here (``pip install "diffusers>=0.30"``, or the ``full`` extra).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from course_lib.assignments.diffusion.profile import DiffusionProfile

WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
CONFIG_FILE, SCHEDULER_FILE = "config.json", "scheduler_config.json"

# What each known model's folder holds on its model page (file, size), the weights in either format
FETCH = {
    "google/ddpm-cifar10-32": [
        (CONFIG_FILE, "699 bytes"),
        (SCHEDULER_FILE, "256 bytes"),
        ("diffusion_pytorch_model.safetensors", "143 MB"),
    ],
}
BIN_SIZE = {"google/ddpm-cifar10-32": "143 MB"}

# google/ddpm-cifar10-32's config.json (699 bytes on its model page, https://huggingface.co/google/ddpm-cifar10-32)
# without _class_name and _diffusers_version: the UNet2DModel of Ho et al. 2020's CIFAR-10 model, 35.7M parameters
# (tests/test_budget.py counts them). The GPU budget counts this network's FLOPs and the tests write random models
# with it; the loader reads the real folder's own config.json, never this one
DDPM_CIFAR10_CONFIG = {
    "act_fn": "silu",
    "attention_head_dim": None,
    "block_out_channels": [128, 256, 256, 256],
    "center_input_sample": False,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
    "downsample_padding": 0,
    "flip_sin_to_cos": False,
    "freq_shift": 1,
    "in_channels": 3,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-06,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 32,
    "time_embedding_type": "positional",
    "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
}


class PretrainedMissingError(FileNotFoundError):
    """A pretrained model's folder or one of its files is absent; the message says what to fetch and where."""


def pretrained_folder(model_id: str, root: str | os.PathLike | None = None) -> Path:
    """``<data root>/<model id>``: where the folder of ``model_id`` (e.g. ``"google/ddpm-cifar10-32"``) is read."""
    from ..data import data_root

    return data_root(root) / model_id


def missing_message(model_id: str, folder: Path, absent: list[str]) -> str:
    """The message of :class:`PretrainedMissingError`: what is absent, what to fetch from where, where to put it."""
    files = FETCH.get(model_id, [(CONFIG_FILE, "small"), (SCHEDULER_FILE, "small"), (WEIGHT_FILES[0], "")])
    listed = ", ".join(f"{name} ({size})" if size else name for name, size in files)
    weights_alt = (
        f" (or diffusion_pytorch_model.bin, {BIN_SIZE[model_id]}, the same weights as a pickle)"
        if model_id in BIN_SIZE
        else " (or diffusion_pytorch_model.bin)"
    )
    urls = " ".join(f"https://huggingface.co/{model_id}/resolve/main/{name}" for name, _ in files)
    return (
        f"pretrained model {model_id!r} is not available: {', '.join(absent)} not found in {folder}. "
        f"Fetch {listed}{weights_alt} from https://huggingface.co/{model_id} (Files and versions) into {folder}: "
        f"the direct links are {urls}. "
        "Or set COURSE_DATA to the folder that holds "
        f'{model_id}/. Loading it needs diffusers (pip install "diffusers>=0.30"). To sample from your own '
        'trained checkpoint instead: COURSE_PROFILE_OVERRIDES=\'{"03_diffusion": {"pretrained_hub": ""}}\'.'
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable JSON file ({exc}); fetch it again") from exc


def check_folder(folder: Path, model_id: str) -> Path:
    """The weights file of ``folder`` (safetensors preferred); :class:`PretrainedMissingError` if anything is absent."""
    folder = Path(folder)
    absent = [name for name in (CONFIG_FILE, SCHEDULER_FILE) if not (folder / name).is_file()]
    weights = next((folder / name for name in WEIGHT_FILES if (folder / name).is_file()), None)
    if weights is None:
        absent.append(f"{WEIGHT_FILES[0]} (or {WEIGHT_FILES[1]})")
    if absent:
        raise PretrainedMissingError(missing_message(model_id, folder, absent))
    return weights


def pretrained_betas(folder: str | os.PathLike) -> torch.Tensor:
    """The (T,) float64 betas of ``folder/scheduler_config.json`` (diffusers' ``linear`` or ``trained_betas``),
    after checking that the model predicts epsilon."""
    path = Path(folder) / SCHEDULER_FILE
    conf = _read_json(path)
    prediction = conf.get("prediction_type", "epsilon")  # diffusers' default, absent from older configs
    if prediction != "epsilon":
        raise ValueError(
            f"{path}: the model predicts {prediction!r}; the course's step functions need an "
            "epsilon-prediction model (prediction_type 'epsilon')"
        )
    T = conf.get("num_train_timesteps", conf.get("timesteps"))
    if conf.get("trained_betas") is not None:
        betas = torch.tensor(conf["trained_betas"], dtype=torch.float64)
    elif conf.get("beta_schedule", "linear") == "linear" and isinstance(T, int):
        # diffusers' "linear": betas evenly spaced from beta_start to beta_end over the T steps (Ho et al. Sec. 4)
        betas = torch.linspace(conf.get("beta_start", 1e-4), conf.get("beta_end", 0.02), T, dtype=torch.float64)
    else:
        raise ValueError(
            f"{path}: beta_schedule {conf.get('beta_schedule')!r} with num_train_timesteps {T!r} is not "
            "supported; expected diffusers' 'linear' schedule or explicit trained_betas"
        )
    return betas


def check_config(folder: str | os.PathLike, cfg: DiffusionProfile) -> None:
    """Raise ValueError unless ``folder`` holds a UNet2DModel of ``cfg``'s image size and channels, trained with
    ``cfg``'s betas (``beta_schedule(cfg.schedule, cfg.timesteps)``) and epsilon prediction."""
    from ..diffusion import beta_schedule

    folder = Path(folder)
    conf = _read_json(folder / CONFIG_FILE)
    size = conf.get("sample_size")
    size = tuple(size) if isinstance(size, list) else (size, size)
    got = (conf.get("_class_name"), size, conf.get("in_channels"), conf.get("out_channels"))
    want = ("UNet2DModel", (cfg.image_size, cfg.image_size), cfg.channels, cfg.channels)
    if got != want:
        raise ValueError(
            f"{folder / CONFIG_FILE} describes a {got[0]} with sample_size {got[1]}, in_channels {got[2]} and "
            f"out_channels {got[3]}; the profile needs a UNet2DModel with sample_size {want[1]} and {cfg.channels} "
            f"channels in and out (images {cfg.channels}x{cfg.image_size}x{cfg.image_size}): is this folder a copy "
            f"of {cfg.pretrained_hub or 'the pretrained model'}?"
        )
    betas = pretrained_betas(folder)
    ours = beta_schedule(cfg.schedule, cfg.timesteps)
    if betas.shape != ours.shape or not torch.allclose(betas, ours, rtol=1e-6, atol=1e-12):
        raise ValueError(
            f"{folder / SCHEDULER_FILE}: the model was trained with T = {betas.shape[0]} betas from {float(betas[0]):.4g} "
            f"to {float(betas[-1]):.4g}; the profile's schedule is {cfg.schedule!r} with T = {cfg.timesteps} (betas "
            f"{float(ours[0]):.4g} to {float(ours[-1]):.4g}). Sampling needs the schedule the model was trained with: "
            "set the profile's schedule and timesteps to match, or use a model trained with them"
        )


class DiffusersEpsModel(nn.Module):
    """A diffusers ``UNet2DModel`` as the course's eps-model: ``model(x_t, t)`` -> eps.

    Args:
        unet: a ``diffusers.UNet2DModel`` predicting epsilon.
    """

    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) in the model range, t (B,) long in 0 .. T-1 -> eps (B, C, H, W)."""
        if t.dim() != 1 or t.shape[0] != x.shape[0]:
            raise ValueError(f"t must have shape (B,) = ({x.shape[0]},), got {tuple(t.shape)}")
        return self.unet(x, t).sample


def load_pretrained_ddpm(
    cfg: DiffusionProfile,
    *,
    root: str | os.PathLike | None = None,
    folder: str | os.PathLike | None = None,
    device: torch.device | str | None = None,
) -> DiffusersEpsModel:
    """The pretrained eps-model ``cfg.pretrained_hub`` from its local folder, checked, in eval mode on ``device``.

    Args:
        cfg: a 03_diffusion profile (image_size, channels, schedule, timesteps, pretrained_hub).
        root: the data root (default ``$COURSE_DATA`` or ``~/.cache/dgm-course/data``); the folder is
            ``<root>/<cfg.pretrained_hub>``, unless ``folder`` gives it.
        device: where the model goes (default :func:`course_lib.device.get_device`).

    Raises:
        PretrainedMissingError: the folder or a file is absent (the message says what to fetch and where).
        ValueError: the folder's model or schedule does not match the profile.
        ImportError: diffusers is not installed.
    """
    from ..device import get_device

    model_id = cfg.pretrained_hub
    if not model_id:
        raise ValueError("this profile names no pretrained diffusers model (pretrained_hub is empty)")
    folder = Path(folder) if folder is not None else pretrained_folder(model_id, root)
    check_folder(folder, model_id)
    check_config(folder, cfg)
    try:
        from diffusers import UNet2DModel
    except ImportError as exc:
        raise ImportError(
            f'loading {model_id} from {folder} needs diffusers: pip install "diffusers>=0.30" '
            '(or pip install -e ".[full]" in the course\'s folder)'
        ) from exc
    unet = UNet2DModel.from_pretrained(str(folder), local_files_only=True)
    model = DiffusersEpsModel(unet.float())
    return model.to(get_device(device)).eval()
