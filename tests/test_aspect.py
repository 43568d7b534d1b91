"""Frames that are not square (--aspect): a 16:9 texture trains, exports, plays and takes a detail
stage at its own aspect; aspects dvtex cannot make are refused before any work."""

import os
import subprocess
import sys

import numpy as np
import pytest

from dvtex.player import load_model
from dvtex.train.checkpoint import load_checkpoint
from dvtex.train.data import resize_frame

from conftest import assert_user_error, run_module


def test_resize_crops_to_the_aspect_then_scales():
    frame = np.zeros((90, 200, 3), np.uint8)
    frame[:, :15] = 255  # a white band at the left edge, cut off by the 16:9 centre crop (160x90 from x = 20)
    out = resize_frame(frame, (36, 64))
    assert out.shape == (36, 64, 3) and out.max() == 0
    assert resize_frame(frame, 45).shape == (45, 45, 3)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wide")
    ckpt = folder / "wide.pt"
    proc = run_module("dvtex.train", "procedural:water:40", "--aspect", "16:9", "--preset", "mnist32", "--width", "8",
                      "--batch", "8", "--steps", "4", "--preview-every", "0", "-o", ckpt)
    assert proc.returncode == 0, proc.stderr
    assert "56x32x3" in proc.stderr
    return folder, ckpt


def test_a_wide_model_trains_exports_and_plays(wide):
    folder, ckpt = wide
    assert load_checkpoint(str(ckpt))["config"]["kernel1_w"] == 7  # 4 * 16/9, rounded
    out = folder / "wide.onnx"
    proc = run_module("dvtex.export", ckpt, "-o", out)
    assert proc.returncode == 0, proc.stderr
    _, info = load_model(str(out), provider="cpu")
    assert (info.height, info.width) == (32, 56)
    raw = subprocess.run([sys.executable, "-m", "dvtex.player", str(out), "--frames", "3", "--out", "-"],
                         capture_output=True, timeout=120, env={**os.environ, "DVTEX_THREADS": "2"})
    assert raw.returncode == 0, raw.stderr
    assert len(raw.stdout) == 3 * 32 * 56 * 3
    video = folder / "wide.mp4"
    proc = run_module("dvtex.player", out, "--frames", "6", "--out", video)
    assert proc.returncode == 0, proc.stderr
    import av

    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (32, 56, 3)


def test_a_wide_model_takes_a_detail_stage_at_its_aspect(wide):
    folder, ckpt = wide
    out = folder / "wide64.pt"
    proc = run_module("dvtex.train", "--detail", ckpt, "--out-size", "64", "--steps", "3", "--batch", "2", "--width", "8",
                      "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "112x64" in proc.stderr
    onnx_out = folder / "wide64.onnx"
    proc = run_module("dvtex.export", out, "-o", onnx_out)
    assert proc.returncode == 0, proc.stderr
    _, info = load_model(str(onnx_out), provider="cpu")
    assert (info.height, info.width) == (64, 112) and info.meta["detail"]["native_width"] == 56


@pytest.mark.parametrize("args,fragment", [
    (["procedural:water:40", "--aspect", "16x9"], "--aspect 16x9"),
    (["procedural:water:40", "--aspect", "0:9"], "--aspect 0:9"),
    (["procedural:water:40", "--aspect", "16:0"], "--aspect 16:0"),
    (["procedural:water:40", "--aspect", "10:1"], "from 1:4 to 4:1"),
    (["digits:01234:20", "--aspect", "16:9"], "digits are square"),
    (["procedural:water:40", "--aspect", "16:9", "--mask", "rect:0.3"], "--mask"),
])
def test_aspects_it_cannot_make_are_refused(tmp_path, args, fragment):
    out = tmp_path / "m.pt"
    assert_user_error(run_module("dvtex.train", *args, "--steps", "2", "-o", out), fragment)
    assert not out.exists()
