"""The detail stage (dvtex-train --detail): the network, its training, export at full size, playing it,
and the sizes and checkpoints it refuses."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from dvtex.player import load_model
from dvtex.train.checkpoint import build_model, load_checkpoint, save_checkpoint
from dvtex.train.detail import DetailConfig, DetailedDecoder, DetailStage, build_detail

from conftest import assert_user_error, last_line_is_the_error, run_module


def train_detail(ckpt, out, *extra):
    return run_module("dvtex.train", "--detail", ckpt, "-o", out, *extra)


@pytest.fixture(scope="session")
def detailed(checkpoints, tmp_path_factory):
    """The tiny 32x32 water model with a 2x detail stage (64x64), trained a few steps, and its .onnx."""
    folder = tmp_path_factory.mktemp("detail")
    out = folder / "water64.pt"
    proc = train_detail(checkpoints["water"], out, "--out-size", "64", "--steps", "30", "--batch", "4", "--width", "8")
    assert proc.returncode == 0, proc.stderr
    onnx_out = folder / "water64.onnx"
    proc = run_module("dvtex.export", out, "-o", onnx_out)
    assert proc.returncode == 0, proc.stderr
    return out, onnx_out, proc.stdout


@pytest.mark.parametrize("factor,channels,upsample,noise", [(2, 3, "shuffle", 0), (4, 3, "shuffle", 0), (4, 1, "shuffle", 0),
                                                           (4, 3, "resize", 0), (2, 3, "resize", 3), (4, 3, "filtered", 0)])
def test_an_untrained_stage_is_bicubic_upscaling(factor, channels, upsample, noise):
    stage = DetailStage(DetailConfig(factor=factor, channels=channels, width=8, native=16, upsample=upsample,
                                     noise=noise)).eval()
    y = torch.rand(3, channels, 16, 16) * 2 - 1
    with torch.no_grad():
        out = stage(y, torch.randn(3, 10))
    assert out.shape == (3, channels, 16 * factor, 16 * factor)
    assert torch.allclose(out, F.interpolate(y, scale_factor=factor, mode="bicubic", align_corners=False), atol=1e-6)


@pytest.mark.parametrize("upsample,grid", [("shuffle", True), ("filtered", False), ("resize", False)])
def test_only_a_plain_sub_pixel_convolution_draws_a_grid_on_a_flat_frame(upsample, grid):
    torch.manual_seed(0)
    stage = DetailStage(DetailConfig(factor=4, width=8, native=16, upsample=upsample)).eval()
    for p in stage.parameters():  # any weights, as training might leave them
        nn.init.normal_(p, 0, 0.3)
    with torch.no_grad():
        out = stage(torch.full((1, 3, 16, 16), 0.2))
    spread = out[..., 8:-8, 8:-8].std(dim=(2, 3)).max().item()  # per channel, away from the borders
    assert (spread > 0.1) if grid else (spread < 1e-5)


def test_training_learns_detail_and_keeps_the_dvae(checkpoints, detailed):
    path, _, _ = detailed
    base, ckpt = load_checkpoint(str(checkpoints["water"])), load_checkpoint(str(path))
    for key, value in base["model"].items():  # the DVAE is frozen
        assert torch.equal(ckpt["model"][key], value)
    history = np.array(ckpt["detail"]["history"])  # step, loss, L1, texture
    assert len(history) == 30 and ckpt["detail"]["step"] == 30 and ckpt["detail"]["out_size"] == 64
    assert history[-5:, 1].mean() < history[:5, 1].mean()
    stage = build_detail(ckpt)
    y = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():  # it has moved away from plain interpolation
        moved = (stage(y) - F.interpolate(y, scale_factor=2, mode="bicubic", align_corners=False)).abs().max()
    assert moved > 1e-3


def test_export_decodes_at_full_size_and_matches_torch(detailed):
    path, onnx_out, stdout = detailed
    assert "at most" in stdout and "64x64" in stdout
    session, info = load_model(str(onnx_out), provider="cpu")
    assert (info.height, info.width) == (64, 64)
    assert info.meta["detail"]["native_size"] == 32 and info.meta["detail"]["factor"] == 2
    ckpt = load_checkpoint(str(path))
    decoder = DetailedDecoder(build_model(ckpt).decoder, build_detail(ckpt)).eval()
    h = torch.randn(16, 10, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = ((decoder(h) + 1) * 127.5).round().clamp(0, 255).permute(0, 2, 3, 1).numpy()
    got = session.run(["frame"], {"h": h.numpy()})[0]
    assert got.shape == (16, 64, 64, 3) and np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_the_noise_field_is_white_under_the_stationary_law_and_a_function_of_h():
    stage = DetailStage(DetailConfig(factor=2, width=8, native=32, noise=2))
    h = torch.randn(4000, 10, generator=torch.Generator().manual_seed(0))
    field = stage.features(torch.zeros(4000, 3, 32, 32), h)[:, 3:]  # (T, 2, 32, 32)
    assert abs(field.std().item() - 1) < 0.05 and abs(field.mean().item()) < 0.05
    assert torch.equal(stage.features(torch.zeros(1, 3, 32, 32), h[:1]), stage.features(torch.zeros(1, 3, 32, 32), h[:1]))
    flat = field[:200].flatten(1).numpy()
    assert np.linalg.matrix_rank(flat) == 10  # n patterns mixed by the state, not one
    right = np.corrcoef(field[:, :, :, :-1].flatten().numpy(), field[:, :, :, 1:].flatten().numpy())[0, 1]
    assert abs(right) < 0.05  # white in space: neighbours uncorrelated


@pytest.mark.parametrize("upsample,noise,bands", [("resize", "2", "all"), ("filtered", "0", "fine")])
def test_other_stages_train_export_and_match_torch(checkpoints, tmp_path, upsample, noise, bands):
    out = tmp_path / "w.pt"
    proc = train_detail(checkpoints["water"], out, "--out-size", "64", "--steps", "4", "--batch", "2", "--width", "8",
                        "--upsample", upsample, "--noise", noise, "--bands", bands)
    assert proc.returncode == 0, proc.stderr
    assert load_checkpoint(str(out))["detail"]["train_config"]["bands"] == bands
    proc = run_module("dvtex.export", out, "-o", tmp_path / "w.onnx")  # verified against torch, or exit 2
    assert proc.returncode == 0, proc.stderr
    session, info = load_model(str(tmp_path / "w.onnx"), provider="cpu")
    assert {k: info.meta["detail"][k] for k in ("upsample", "noise", "bands")} == \
        {"upsample": upsample, "noise": int(noise), "bands": bands}  # what it was trained as, in the file
    h = np.random.default_rng(1).standard_normal((3, 10)).astype(np.float32)
    first, again = (session.run(["frame"], {"h": h})[0] for _ in range(2))
    assert first.shape == (3, 64, 64, 3) and np.array_equal(first, again)


def test_the_player_shows_full_size_frames(detailed):
    _, onnx_out, _ = detailed
    proc = subprocess.run([sys.executable, "-m", "dvtex.player", str(onnx_out), "--frames", "5", "--out", "-"],
                          capture_output=True, timeout=120, env={**os.environ, "DVTEX_THREADS": "2"})
    assert proc.returncode == 0, proc.stderr
    frames = np.frombuffer(proc.stdout, np.uint8)
    assert frames.size == 5 * 64 * 64 * 3 and frames.std() > 1


@pytest.mark.parametrize("extra,fragment", [
    (["--out-size", "48"], "2x or 4x"),
    (["--out-size", "256"], "use --out-size 64 or 128"),
    (["--steps", "0"], "--steps"),
    (["--texture", "-1"], "--texture"),
    (["--pixel", "0", "--texture", "0"], "nothing to learn"),
    (["--out-size", "64", "--crop", "30"], "--crop 30: at most 20"),
    (["--noise", "65"], "--noise"),
    (["--bands", "coarse"], "--bands"),
])
def test_bad_options_are_refused_before_any_work(checkpoints, tmp_path, extra, fragment):
    out = tmp_path / "x.pt"
    assert_user_error(train_detail(checkpoints["water"], out, "--steps", "3", *extra), fragment)
    assert not out.exists()


def test_a_diverging_stage_stops_with_one_line_and_writes_nothing(checkpoints, tmp_path):
    out = tmp_path / "d.pt"
    proc = train_detail(checkpoints["water"], out, "--out-size", "64", "--steps", "20", "--batch", "2", "--width", "8",
                        "--lr", "1e30")
    last_line_is_the_error(proc, "diverged at step", "nothing was written", "lower --lr")
    assert not out.exists()


def test_a_size_larger_than_the_source_is_refused(checkpoints, tmp_path):
    out = tmp_path / "x.pt"
    assert_user_error(train_detail(checkpoints["digits"], out, "--out-size", "64"), "larger than digits:01234:60 (28x28)")
    assert not out.exists()


def test_other_models_and_outputs_are_refused(checkpoints, tmp_path):
    lds = tmp_path / "lds.pt"
    proc = run_module("dvtex.train", "procedural:water:40", "--method", "lds", "--preset", "mnist32", "-o", lds)
    assert proc.returncode == 0, proc.stderr
    assert_user_error(train_detail(lds, tmp_path / "x.pt", "--out-size", "64"), "lds model", "DVAE")
    assert_user_error(train_detail(checkpoints["water"], lds, "--out-size", "64"), "exists")
    assert_user_error(train_detail(tmp_path / "none.pt", tmp_path / "y.pt"), "no such checkpoint")
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()


def test_a_broken_stage_is_refused_on_load(detailed, tmp_path):
    path, _, _ = detailed
    ckpt = load_checkpoint(str(path))
    key = next(iter(ckpt["detail"]["model"]))
    ckpt["detail"]["model"][key] = ckpt["detail"]["model"][key] * float("nan")
    bad = tmp_path / "bad.pt"
    save_checkpoint(ckpt, str(bad))
    assert_user_error(run_module("dvtex.export", bad, "-o", tmp_path / "bad.onnx"), "detail stage", "not finite")
    assert not os.path.exists(tmp_path / "bad.onnx")


def test_a_stage_from_before_bands_loads_as_every_octave(detailed, tmp_path):
    path, _, _ = detailed
    ckpt = load_checkpoint(str(path))
    assert ckpt["detail"]["train_config"]["bands"] == "fine"  # the default now
    del ckpt["detail"]["train_config"]["bands"]
    old = tmp_path / "old.pt"
    save_checkpoint(ckpt, str(old))
    assert load_checkpoint(str(old))["detail"]["train_config"]["bands"] == "all"
