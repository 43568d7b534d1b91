"""`make demo` on a machine with no display renders the bundled model to demo.mp4 and demo.gif."""

import os
import shutil
import subprocess

import av
import pytest
from PIL import Image

from conftest import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make missing")
def test_make_demo_without_a_display_renders_ten_seconds(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MAKEFLAGS", "MAKELEVEL")}
    mp4, gif = tmp_path / "demo.mp4", tmp_path / "demo.gif"  # the test writes nothing into the checkout
    proc = subprocess.run(["make", "demo", f"DEMO_OUT={tmp_path}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"{mp4}" in proc.stdout and f"{gif}" in proc.stdout
    with av.open(str(mp4)) as f:
        assert sum(1 for _ in f.decode(video=0)) == 300 and f.streams.video[0].average_rate == 30
    with Image.open(gif) as g:
        assert g.n_frames == 300
