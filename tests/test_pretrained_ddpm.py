"""The full profile's pretrained DDPM (course_lib.nets.pretrained_ddpm) against diffusers itself.

The real weights (google/ddpm-cifar10-32, 143 MB) are not available here: the folders are randomly initialised
diffusers UNet2DModels with that model's config, saved by ``save_pretrained`` as its model page has them
(tests/fake_datasets.py). What is checked: the loaded model is diffusers' UNet2DModel called as the course's
eps-model; the course's DDPM step (solution and reference ``p_sample``) with the pretrained schedule equals
diffusers' ``DDPMScheduler.step`` (``fixed_small``) and its DDIM step with eta 0 equals ``DDIMScheduler.step``;
a missing folder gives the whole expected message and a folder that does not fit the profile a clear error.
"""

from __future__ import annotations

import json

import fake_datasets
import pytest
import torch
from conftest import solution_functions
from diffusers import DDIMScheduler, DDPMScheduler

from autograder.assignments.diffusion import reference as ref
from course_lib.assignments.diffusion.profile import DiffusionProfile
from course_lib.diffusion import beta_schedule, linear_beta_schedule, load_sampling_model, sampling_model_path
from course_lib.nets.pretrained_ddpm import (
    DiffusersEpsModel,
    PretrainedMissingError,
    load_pretrained_ddpm,
    pretrained_betas,
    pretrained_folder,
)
from course_lib.profiles import get_profile

NAME = "03_diffusion"
MODEL_ID = "google/ddpm-cifar10-32"


@pytest.fixture(scope="module")
def full():
    return get_profile(NAME, "full")


@pytest.fixture(scope="module")
def sol():
    return solution_functions(NAME)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """(folder, the UNet2DModel saved there): the real config with narrower, shallower blocks, T = 1000."""
    folder = tmp_path_factory.mktemp("ddpm") / MODEL_ID
    return folder, fake_datasets.write_pretrained_ddpm(folder)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def steps(t, n=2):
    return torch.full((n,), t, dtype=torch.long)


def test_loaded_model_is_the_unet_called_as_an_eps_model(small, full):
    folder, unet = small
    model = load_pretrained_ddpm(full, folder=folder, device="cpu")
    assert isinstance(model, DiffusersEpsModel) and not model.training
    x, t = torch.randn(4, 3, 32, 32, generator=gen(0)), torch.tensor([0, 1, 500, 999])
    with torch.no_grad():
        got = model(x, t)
        want = unet(x, t).sample
        # one image at a time with a python int, as diffusers' DDPMPipeline calls it: the (B,) t is per image
        one_by_one = torch.cat([unet(x[i : i + 1], int(t[i])).sample for i in range(4)])
        other_t = model(x, t.flip(0))
    assert got.shape == (4, 3, 32, 32)
    assert torch.allclose(got, want, atol=1e-6) and torch.allclose(got, one_by_one, atol=1e-5)
    assert not torch.allclose(got, other_t, atol=1e-3), "the time step must reach the network"
    with pytest.raises(ValueError, match="t must"):
        model(x, torch.tensor(3))


def test_real_config_loads_through_the_profile(tmp_path, monkeypatch, full):
    # google/ddpm-cifar10-32's own config.json and scheduler_config.json, byte for byte the sizes its page lists
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    folder = pretrained_folder(MODEL_ID)
    assert folder == tmp_path / "google" / "ddpm-cifar10-32" == sampling_model_path(full)
    unet = fake_datasets.write_pretrained_ddpm(folder, small=False)
    assert sum(p.numel() for p in unet.parameters()) == 35_746_307  # the model card's 35.7M
    assert (folder / "diffusion_pytorch_model.safetensors").stat().st_size == 143_020_060  # "143 MB"
    config = {"_class_name": "UNet2DModel", "_diffusers_version": "0.0.4"} | fake_datasets.DDPM_CIFAR10_CONFIG
    scheduler = {"_class_name": "DDPMScheduler", "_diffusers_version": "0.1.0"} | fake_datasets.DDPM_CIFAR10_SCHEDULER
    for name, value, size in (("config.json", config, 699), ("scheduler_config.json", scheduler, 256)):
        text = json.dumps(value, indent=2, sort_keys=True) + "\n"
        assert len(text) == size
        (folder / name).write_text(text)
    model = load_sampling_model(full, device="cpu")
    x, t = torch.randn(2, 3, 32, 32, generator=gen(1)), torch.tensor([3, 998])
    with torch.no_grad():
        assert torch.allclose(model(x, t), unet(x, t).sample, atol=1e-5)
    assert torch.equal(pretrained_betas(folder), beta_schedule(full.schedule, full.timesteps))


def test_bin_weights_load_too(tmp_path, full):
    folder = tmp_path / MODEL_ID
    unet = fake_datasets.write_pretrained_ddpm(folder, safe_serialization=False, seed=3)
    assert (folder / "diffusion_pytorch_model.bin").exists()
    assert not (folder / "diffusion_pytorch_model.safetensors").exists()
    x, t = torch.randn(2, 3, 32, 32, generator=gen(2)), torch.tensor([10, 20])
    with torch.no_grad():
        assert torch.allclose(
            load_pretrained_ddpm(full, folder=folder, device="cpu")(x, t), unet(x, t).sample, atol=1e-6
        )


# ------------------------------------------------------------------ the course's steps vs diffusers' schedulers


@pytest.mark.parametrize("impl", ["solution", "reference"])
@pytest.mark.parametrize("clip", [True, False])
def test_p_sample_matches_ddpm_scheduler(small, full, sol, impl, clip):
    folder, _ = small
    fns = sol if impl == "solution" else ref
    model = load_pretrained_ddpm(full, folder=folder, device="cpu")
    s = fns.make_schedule(pretrained_betas(folder))
    # the course's p_sample uses beta-tilde_t (Ho et al.'s sigma^2 = beta-tilde), diffusers' "fixed_small"
    d = DDPMScheduler.from_pretrained(str(folder), variance_type="fixed_small", clip_sample=clip)
    for t in (999, 600, 100, 1, 0):
        x = torch.randn(2, 3, 32, 32, generator=gen(100 + t))
        with torch.no_grad():
            want = d.step(model(x, steps(t)), t, x, generator=gen(t)).prev_sample
            got = fns.p_sample(model, x, steps(t), torch.randn(2, 3, 32, 32, generator=gen(t)), s, clip_x0=clip)
        # diffusers keeps alpha-bar in float32; unclipped x0_hat at t = 999 is x_t / sqrt(alpha-bar) ~ 150 x_t
        assert torch.allclose(got, want, atol=1e-4, rtol=1e-4), (t, (got - want).abs().max())


@pytest.mark.parametrize("impl", ["solution", "reference"])
def test_ddim_step_matches_ddim_scheduler(small, full, sol, impl):
    folder, _ = small
    fns = sol if impl == "solution" else ref
    model = load_pretrained_ddpm(full, folder=folder, device="cpu")
    s = fns.make_schedule(pretrained_betas(folder))
    d = DDIMScheduler.from_pretrained(str(folder), set_alpha_to_one=True)  # clip_sample from the folder: true
    d.set_timesteps(full.ddim_eval_steps)  # 100 steps: stride 10
    for t in (990, 500, 10, 9, 0):
        t_prev = t - 10 if t >= 10 else -1  # diffusers: alpha-bar of a negative step is 1 (set_alpha_to_one)
        x = torch.randn(2, 3, 32, 32, generator=gen(t))
        z = torch.randn(2, 3, 32, 32, generator=gen(1000 + t))
        with torch.no_grad():
            want = d.step(model(x, steps(t)), t, x, eta=0.0).prev_sample
            got = fns.ddim_step(model, x, steps(t), steps(t_prev), z, s, 0.0)
        assert torch.allclose(got, want, atol=1e-4, rtol=1e-4), (t, (got - want).abs().max())


# ------------------------------------------------------------------ errors


def test_missing_folder_says_what_to_fetch_and_where(tmp_path, monkeypatch, full):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    folder = tmp_path / "google" / "ddpm-cifar10-32"
    with pytest.raises(PretrainedMissingError) as info:
        load_sampling_model(full, device="cpu")
    assert str(info.value) == (
        f"pretrained model 'google/ddpm-cifar10-32' is not available: config.json, scheduler_config.json, "
        f"diffusion_pytorch_model.safetensors (or diffusion_pytorch_model.bin) not found in {folder}. "
        "Fetch config.json (699 bytes), scheduler_config.json (256 bytes), diffusion_pytorch_model.safetensors "
        "(143 MB) (or diffusion_pytorch_model.bin, 143 MB, the same weights as a pickle) from "
        f"https://huggingface.co/google/ddpm-cifar10-32 (Files and versions) into {folder}: the direct links are "
        "https://huggingface.co/google/ddpm-cifar10-32/resolve/main/config.json "
        "https://huggingface.co/google/ddpm-cifar10-32/resolve/main/scheduler_config.json "
        "https://huggingface.co/google/ddpm-cifar10-32/resolve/main/diffusion_pytorch_model.safetensors. "
        "Or set COURSE_DATA to the folder that holds google/ddpm-cifar10-32/. Loading it needs diffusers "
        '(pip install "diffusers>=0.30"). To sample from your own trained checkpoint instead: '
        'COURSE_PROFILE_OVERRIDES=\'{"03_diffusion": {"pretrained_hub": ""}}\'.'
    )
    # only the weights absent: the message names only them
    fake_datasets.write_pretrained_ddpm(folder)
    (folder / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(
        PretrainedMissingError,
        match=r"available: diffusion_pytorch_model.safetensors \(or "
        r"diffusion_pytorch_model.bin\) not found in",
    ):
        load_sampling_model(full, device="cpu")


@pytest.mark.parametrize(
    "change, match",
    [
        (
            {"sample_size": 64},
            r"sample_size \(64, 64\).*needs a UNet2DModel with sample_size \(32, 32\) and 3 channels",
        ),
        ({"in_channels": 1}, "in_channels 1"),
        ({"scheduler": {"num_train_timesteps": 500}}, r"T = 500 .*the profile's schedule is 'linear' with T = 1000"),
        ({"scheduler": {"beta_end": 0.03}}, "betas from 0.0001 to 0.03"),
        ({"scheduler": {"beta_schedule": "squaredcos_cap_v2"}}, "beta_schedule 'squaredcos_cap_v2'.* not supported"),
        ({"scheduler": {"prediction_type": "v_prediction"}}, "predicts 'v_prediction'.*epsilon"),
    ],
)
def test_a_folder_that_does_not_fit_the_profile_is_refused(tmp_path, full, change, match):
    folder = tmp_path / MODEL_ID
    fake_datasets.write_pretrained_ddpm(folder, **change)
    with pytest.raises(ValueError, match=match):
        load_pretrained_ddpm(full, folder=folder, device="cpu")


def test_the_profile_schedule_must_be_the_models(small):
    folder, _ = small
    cosine = get_profile(NAME, "full", schedule="cosine")
    with pytest.raises(ValueError, match="the profile's schedule is 'cosine' with T = 1000"):
        load_pretrained_ddpm(cosine, folder=folder, device="cpu")


def test_profile_fields():
    fast, full = get_profile(NAME, "fast"), get_profile(NAME, "full")
    assert (full.pretrained_hub, full.pretrained, full.schedule, full.timesteps) == (MODEL_ID, "", "linear", 1000)
    assert (fast.pretrained_hub, fast.pretrained) == ("", "diffusion_fast.pt")
    with pytest.raises(ValueError, match="at most one"):
        DiffusionProfile(**{**fast.__dict__, "pretrained_hub": MODEL_ID})
    with pytest.raises(ValueError, match="too short for the linear schedule"):
        linear_beta_schedule(20)
    assert linear_beta_schedule(50).max() < 1  # the smoke profile's T
