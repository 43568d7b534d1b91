import json
import os
import threading

import av
import numpy as np
import pytest
from PIL import Image

from dvtex.dynamics import stationarity_residual
from dvtex.player import TextureStream, load_model
from dvtex.player.stream import LatentStream

from conftest import assert_user_error, needs_display, run_module


def test_texture_stream_is_deterministic_by_seed(onnx_model):
    with TextureStream(str(onnx_model), seed=5, provider="cpu") as a, TextureStream(str(onnx_model), seed=5) as b:
        fa = [a.next_frame() for _ in range(6)]
        fb = [f for f, _ in zip(b, range(6))]
        assert a.provider == "CPUExecutionProvider"
    assert fa[0].shape == (32, 32, 3) and fa[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb))
    assert not np.array_equal(fa[1], fa[5])
    with TextureStream(str(onnx_model), seed=6) as c:
        assert np.array_equal(c.next_frame(), fa[0])  # both start from stored state h0[0]
        assert not np.array_equal(c.next_frame(), fa[1])
        c.reseed(5)
        assert all(np.array_equal(c.next_frame(), f) for f in fa)
        out = np.zeros((32, 32, 3), np.uint8)
        assert c.next_frame(out=out) is out


def test_latent_stream_controls_and_stationarity(onnx_model):
    _, info = load_model(str(onnx_model), "cpu")
    s = LatentStream(info, seed=0, start=3)
    assert np.allclose(s.step()[0], info.h0[3])
    s.speed, s.gain = 1000, -1
    assert s.speed == 64 and s.gain == 0
    with pytest.raises(IndexError):
        LatentStream(info, start=99)
    for speed in (0.5, 1.0, 2.5):
        s = LatentStream(info, seed=1, start="random", speed=speed)
        h = np.array([s.step()[0].copy() for _ in range(20000)], np.float64)[200:]
        assert np.abs(np.cov(h.T) - np.eye(info.n)).max() < 0.15, speed
        assert stationarity_residual(*s.scaler(speed)) < 1e-9


def test_offline_render_has_exactly_n_frames(onnx_model, tmp_path):
    for name in ("clip.mp4", "clip.gif", "pngs"):
        proc = run_module("dvtex.player", onnx_model, "--frames", 25, "--fps", 20, "--out", tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        assert "rendered 25 frames" in proc.stdout and "frames/s" in proc.stdout
    with av.open(str(tmp_path / "clip.mp4")) as f:
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
        assert f.streams.video[0].average_rate == 20
    assert len(frames) == 25 and frames[0].shape == (32, 32, 3)
    with Image.open(tmp_path / "clip.gif") as gif:
        assert gif.n_frames == 25
    assert sorted(os.listdir(tmp_path / "pngs"))[-1] == "frame_000024.png" and len(os.listdir(tmp_path / "pngs")) == 25
    # the offline render is the stream: frame 7 of the PNGs is TextureStream's frame 7
    with TextureStream(str(onnx_model), seed=0) as tex:
        want = [tex.next_frame() for _ in range(8)][7]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "pngs" / "frame_000007.png")), want)


def test_benchmark_prints_throughput(onnx_model):
    proc = run_module("dvtex.player", onnx_model, "--benchmark", "--frames", 64, "--batch", 8)
    assert proc.returncode == 0, proc.stderr
    assert "frames/s" in proc.stdout and "CPUExecutionProvider" in proc.stdout


def test_user_errors(onnx_model, tmp_path):
    no_display = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "dvtex.player", str(onnx_model)], env=no_display,
                          capture_output=True, text=True, timeout=120)
    assert_user_error(proc, "no display", "--out", "xvfb-run")
    proc = subprocess.run([sys.executable, "-m", "dvtex.player", str(tmp_path / "none.onnx")], env=no_display,
                          capture_output=True, text=True, timeout=120)
    assert_user_error(proc, "no such model file")  # the path first: no display is the next thing to fix
    assert_user_error(run_module("dvtex.player", tmp_path / "none.onnx"), "no such model file")
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    assert_user_error(run_module("dvtex.player", tmp_path / "bad.onnx", "--benchmark"), "not a readable ONNX model")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        assert_user_error(run_module("dvtex.player", onnx_model, "--provider", "cuda", "--benchmark"), "CUDA")
    assert_user_error(run_module("dvtex.player", onnx_model, "--start", "40", "--benchmark"), "--start")
    assert_user_error(run_module("dvtex.player", onnx_model, "--out", tmp_path / "x.avi2"), "--out")


@needs_display
def test_stats_json_from_a_window_run(onnx_model, tmp_path):
    stats = tmp_path / "stats.json"
    proc = run_module("dvtex.player", onnx_model, "--frames", 30, "--fps", 60, "--stats-json", stats)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(stats.read_text())
    assert data["frames"] == 30 and data["fps_target"] == 60 and data["provider"] == "CPUExecutionProvider"
    for key in ("p50", "p99", "max"):
        assert data["interval_ms"][key] > 0
    assert set(data["decode_ms"]) == {"p50", "p99"} and data["first_frame_ms"] > 0
    # a 32x32 decode takes well under a millisecond: a working producer has nearly every tick's frame ready
    assert set(data["rss_mb"]) == {"start", "end"} and data["dropped"] < data["frames"] // 2


def test_the_first_tick_shows_the_first_frame_even_when_the_second_is_ready(onnx_model):
    from dvtex.player.producer import FrameProducer
    from dvtex.player.source import FrameSource

    with TextureStream(str(onnx_model), seed=3, provider="cpu") as tex:
        want = [tex.next_frame() for _ in range(3)]
    producer = FrameProducer(FrameSource.open(str(onnx_model), seed=3, provider="cpu")).start()
    taken = []
    try:
        for _ in range(3):
            assert producer.wait_ready(timeout=10)  # the next frame is made before the tick: a slow clock
            frame, new = producer.take()
            taken.append((frame.copy(), new, producer.shown_index))
    finally:
        producer.stop()
    assert [(new, index) for _, new, index in taken] == [(True, 0), (True, 1), (True, 2)]
    for (frame, _, _), w in zip(taken, want):
        np.testing.assert_array_equal(frame, w)


def test_producer_wakes_a_waiting_consumer_at_once(onnx_model):
    from dvtex.player.producer import FrameProducer
    from dvtex.player.source import FrameSource

    class Watched(threading.Condition):
        """Counts waits that ended by their timeout (Condition.wait returns False then)."""

        timeouts = 0

        def wait(self, timeout=None):
            woken = super().wait(timeout)
            Watched.timeouts += not woken
            return woken

    producer = FrameProducer(FrameSource.open(str(onnx_model), seed=0, provider="cpu"))
    producer._cond = Watched()
    producer.start()
    assert producer.take()[1]  # the first frame, made before any wait
    for _ in range(50):
        assert producer.wait_ready(timeout=10)
        assert Watched.timeouts == 0  # woken by the frame being ready, not by the timeout
        assert producer.take()[1]
    producer.stop()
    assert producer.shown_index == 50


def test_a_frame_taken_without_release_holds_the_next_until_released(onnx_model):
    from dvtex.player.producer import FrameProducer
    from dvtex.player.source import FrameSource

    producer = FrameProducer(FrameSource.open(str(onnx_model), seed=0, provider="cpu")).start()
    try:
        assert producer.take()[1] and producer.wait_ready(timeout=10)
        assert producer.take(release=False)[1] and producer.shown_index == 1
        assert not producer.wait_ready(timeout=0.5)  # held: frame 2 is not being made
        producer.set_paused(False)  # another wake-up of the producer does not release it
        assert not producer.wait_ready(timeout=0.2)
        producer.release()
        assert producer.wait_ready(timeout=10) and producer.ready_index == 2
    finally:
        producer.stop()


def test_stats_fps_now_uses_the_latest_intervals_across_the_ring():
    from dvtex.player.stats import RING, PlaybackStats

    stats = PlaybackStats(30, "CPUExecutionProvider", t_start=0.0)
    assert stats.fps_now() == 0.0
    t = 0.0
    for i in range(RING + 10):  # past the ring's end: the newest entries sit at its start
        t += 0.05 if i < RING else 0.025
        stats.shown(t, True)
    assert stats.fps_now(frames=9) == pytest.approx(40.0)
