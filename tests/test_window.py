"""A real pyglet window under Xvfb: what it shows, read back from the framebuffer, and its keys."""

import os

import numpy as np
import pytest

from conftest import needs_display

pytestmark = needs_display


@pytest.fixture
def player(onnx_model):
    from dvtex.player.producer import FrameProducer
    from dvtex.player.source import FrameSource
    from dvtex.player.stats import PlaybackStats
    from dvtex.player.window import PlayerWindow

    source = FrameSource.open(str(onnx_model), seed=11, provider="cpu")
    producer = FrameProducer(source).start()
    recorded = []

    def recorder(path):
        from dvtex.player.render import VideoWriter

        recorded.append(path)
        return VideoWriter(path, 30, 32, 32)

    window = PlayerWindow(producer, 30, PlaybackStats(30, source.provider), size=(128, 128), nearest=True,
                          recorder=recorder, log=lambda m: None)
    window.recorded = recorded
    yield window
    producer.stop()
    window.close()


def test_window_shows_what_texture_stream_makes(player, onnx_model):
    from dvtex.player import TextureStream
    from dvtex.player.window import read_framebuffer

    assert player.run(60) == 60
    assert player.stats.frames == 60
    index = player.producer.shown_index
    assert index >= 50  # the latent advanced with the display, not stuck
    player.on_draw()
    shown = read_framebuffer(player.window)
    with TextureStream(str(onnx_model), seed=11, provider="cpu") as tex:
        want = [tex.next_frame() for _ in range(index + 1)][index]
    assert shown.shape == (128, 128, 3)
    scaled = np.repeat(np.repeat(want, 4, axis=0), 4, axis=1)  # --nearest, 4x
    assert np.abs(shown.astype(int) - scaled).max() <= 2


def play_and_record_outputs(model, fps, seed, ticks):
    """`model` in a 64x64 window for `ticks` ticks with an output that keeps what it is sent: (window,
    producer, sent [(frame, index)], TextureStream's frames for `seed` up to the last one taken, the
    back buffer redrawn after the last tick)."""
    from dvtex.player import TextureStream
    from dvtex.player.producer import FrameProducer
    from dvtex.player.source import FrameSource
    from dvtex.player.stats import PlaybackStats
    from dvtex.player.window import PlayerWindow, read_framebuffer

    sent = []

    class Outputs:
        def send(self, frame, index):
            sent.append((frame.copy(), index))

    producer = FrameProducer(FrameSource.open(model, seed=seed, provider="cpu")).start()
    window = PlayerWindow(producer, fps, PlaybackStats(fps, "cpu"), size=(64, 64), log=lambda m: None)
    window.outputs = Outputs()
    try:
        window.run(ticks)
        window.on_draw()
        drawn = read_framebuffer(window.window).astype(int)
    finally:
        producer.stop()
        window.close()
    with TextureStream(model, seed=seed, provider="cpu") as tex:
        frames = [tex.next_frame() for _ in range(producer.shown_index + 1)]
    return window, producer, sent, frames, drawn


def test_the_frame_flipped_is_the_one_recorded_and_sent(demo_model):
    """Drawn ahead of each tick and flipped on it: window.frame (what the recording and the outputs get)
    is the frame each tick flipped, one new frame a tick, and it is still what the window draws."""
    window, producer, sent, frames, drawn = play_and_record_outputs(demo_model, 30, 5, 20)
    first = sent[0][1]
    assert [index for _, index in sent] == list(range(first, first + 20))
    assert all(np.array_equal(frame, frames[index]) for frame, index in sent)
    assert window.frame_index == producer.shown_index == sent[-1][1]
    assert np.array_equal(window.frame, frames[-1]) and np.abs(drawn - frames[-1]).max() <= 2


@pytest.mark.parametrize("fps", [5, 2000])
def test_the_decode_waits_for_the_flip_only_when_decode_and_draw_fit_a_period(demo_model, fps):
    """At 5 FPS a decode and a draw fit a 200 ms period many times over: the next decode waits for the
    flip. At 2000 FPS nothing fits 0.5 ms: it starts as the frame is taken. Either way each frame
    handed on is the one made for its latent step, and the latent moves on."""
    window, _, sent, frames, _ = play_and_record_outputs(demo_model, fps, 2, 10 if fps == 5 else 200)
    assert window.hold_decode == (fps == 5)
    indices = [index for _, index in sent]
    assert indices == sorted(indices) and indices[-1] >= indices[0] + (9 if fps == 5 else 5)
    assert all(np.array_equal(frame, frames[index]) for frame, index in sent)


def test_keys_change_what_they_name(player, tmp_path, monkeypatch):
    from pyglet.window import key

    monkeypatch.chdir(tmp_path)

    def press(symbol):  # as if typed: pyglet queues window events and runs them in dispatch_events()
        player.window.dispatch_event("on_key_press", symbol, 0)
        player.window.dispatch_events()

    def plays_until(condition, ticks=90):  # a control acts where the next frame is made: a tick or two on
        for _ in range(ticks):
            if condition():
                return True
            player.run(1)
        return condition()

    stream = player.producer.source
    player.run(5)
    press(key.SPACE)
    assert player.producer.paused
    player.run(5)
    before = player.producer.shown_index
    player.run(3)
    assert player.producer.shown_index == before  # paused: the picture holds
    press(key.RIGHT)
    player.producer.wait_ready()
    player.run(2)
    assert player.producer.shown_index == before + 1  # one step
    press(key.SPACE)
    press(key.UP)
    assert plays_until(lambda: stream.speed == pytest.approx(1.25))
    press(key.DOWN)
    press(key.DOWN)
    assert plays_until(lambda: stream.speed == pytest.approx(0.8))
    press(key.BRACKETRIGHT)
    assert plays_until(lambda: stream.gain == pytest.approx(1.1))
    press(key.BRACKETLEFT)
    press(key.BRACKETLEFT)
    assert plays_until(lambda: stream.gain == pytest.approx(0.9))
    steps = stream.latent.steps
    press(key.K)  # a manual kick goes into the next frame's innovation
    assert plays_until(lambda: stream.controls.applied_at_step > steps)
    seed = stream.seed
    press(key.R)
    assert plays_until(lambda: stream.seed != seed)
    assert not player.show_overlay
    press(key.H)
    player.run(2)
    assert player.show_overlay and "FPS" in player.label.text and "gain 0.90" in player.label.text
    press(key.S)
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".png")]) == 1
    press(key.V)
    player.run(10)
    press(key.V)
    import av

    with av.open(player.recorded[0]) as f:
        assert len(list(f.decode(video=0))) == 10
    press(key.F)
    assert player.window.fullscreen
    press(key.F)
    press(key.Q)
    assert player.window.has_exit


def test_background_example_app_runs(onnx_model):
    import subprocess
    import sys

    from conftest import ROOT

    proc = subprocess.run([sys.executable, "examples/background.py", str(onnx_model), "--frames", "20"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_texture_background_paints_the_stream_behind_app_content(onnx_model):
    import pyglet

    from dvtex.player import TextureStream
    from dvtex.player.window import TextureBackground, read_framebuffer

    window = pyglet.window.Window(96, 64, visible=True)
    try:
        with TextureStream(str(onnx_model), seed=3) as stream, TextureStream(str(onnx_model), seed=3) as twin:
            background = TextureBackground(stream, *window.get_framebuffer_size(), nearest=True)
            label = pyglet.shapes.Rectangle(0, 0, 10, 10, color=(255, 0, 255))  # the app's own content
            for _ in range(3):
                window.clear()
                background.draw()
                label.draw()
            shown = read_framebuffer(window)
            want = [twin.next_frame() for _ in range(3)][2]
            background.delete()
        w, h = window.get_framebuffer_size()
        assert stream.latent.steps == 2  # three frames: h0 and two steps
        assert np.array_equal(shown[-1, 0], [255, 0, 255])  # the app's square, bottom left, on top
        rows, cols = (np.arange(h) * 32) // h, (np.arange(w) * 32) // w  # nearest, stretched to the window
        assert np.abs(shown[:40, 20:].astype(int) - want[rows][:, cols][:40, 20:]).max() <= 2
    finally:
        window.close()


def test_captures_that_cannot_be_written_leave_the_window_playing(onnx_model, tmp_path):
    """S and V into a folder that vanished, and a recording onto a full disk (/dev/full): each fault is
    said once and shown in the overlay, and the texture plays on."""
    from pyglet.window import key

    from dvtex.player.producer import FrameProducer
    from dvtex.player.render import VideoWriter
    from dvtex.player.source import FrameSource
    from dvtex.player.stats import PlaybackStats
    from dvtex.player.window import PlayerWindow

    captures, full = tmp_path / "captures", tmp_path / "full.mp4"
    captures.mkdir()
    full.symlink_to("/dev/full")
    said = []
    producer = FrameProducer(FrameSource.open(str(onnx_model), provider="cpu")).start()
    stats = PlaybackStats(30, "cpu")
    window = PlayerWindow(producer, 30, stats, size=(128, 128), log=said.append, overlay=True,
                          recorder=lambda path: VideoWriter(str(captures / "rec.mp4"), 30, 32, 32),
                          capture_dir=str(captures))
    try:
        window.run(5)
        captures.rmdir()  # the folder goes away during the show
        for symbol in (key.S, key.S, key.V):
            window.on_key_press(symbol, 0)
        window.run(10)
        window.recorder_factory = lambda path: VideoWriter(str(full), 30, 32, 32)  # a disk with no room
        window.on_key_press(key.V, 0)
        before = producer.shown_index
        window.run(60)
        window.on_key_press(key.V, 0)
        window.run(5)
        text = window.overlay_text()
    finally:
        producer.stop()
        window.close()
    faults = [line for line in said if "failed" in line]
    assert sum("screenshot" in line for line in faults) == 1  # said once, however often it fails
    assert any("recording" in line and "rec.mp4" in line for line in faults)
    assert any("recording" in line and "full.mp4" in line for line in faults)
    assert "failed" in text and window.recording is None
    assert stats.frames == 80 and producer.shown_index >= before + 50  # it played on, frame after frame


@pytest.mark.parametrize("fit", ["contain", "cover", "stretch"])
def test_fit_places_the_frame_in_a_wide_window(onnx_model, fit):
    from dvtex.player.producer import FrameProducer
    from dvtex.player.source import FrameSource
    from dvtex.player.stats import PlaybackStats
    from dvtex.player.window import PlayerWindow, read_framebuffer

    source = FrameSource.open(str(onnx_model), seed=3, provider="cpu")
    producer = FrameProducer(source).start()
    window = PlayerWindow(producer, 30, PlaybackStats(30, source.provider), size=(192, 96), nearest=True,
                          log=lambda m: None, fit=fit)
    try:
        window.run(3)
        window.on_resize(192, 96)
        window.on_draw()
        shown = read_framebuffer(window.window).astype(int)
        frame = window.producer.current().astype(int)  # the frame drawn for the next flip
    finally:
        producer.stop()
        window.close()
    assert shown.shape == (96, 192, 3)
    if fit == "contain":  # 96x96 in the middle, black bars either side
        want = np.repeat(np.repeat(frame, 3, axis=0), 3, axis=1)
        assert shown[:, :48].max() == 0 and shown[:, 144:].max() == 0
        assert np.abs(shown[:, 48:144] - want).max() <= 2
    elif fit == "cover":  # 192x192, its middle 96 rows shown: no bars
        want = np.repeat(np.repeat(frame, 6, axis=0), 6, axis=1)[48:144]
        assert np.abs(shown - want).max() <= 2
    else:  # 6x wide, 3x high
        want = np.repeat(np.repeat(frame, 3, axis=0), 6, axis=1)
        assert np.abs(shown - want).max() <= 2
