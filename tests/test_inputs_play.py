"""dvtex-play against bad and unusual input: every bad value of every option is refused before any work
with one line and status 2; legitimate unusual values (29.97 fps, 1 fps, a huge window) work."""

import os

import av
import pytest
from PIL import Image

from dvtex.player.cli import main

from conftest import assert_refused, needs_display, run_main

BAD = [
    (["--fps", "0"], "--fps"), (["--fps", "-5"], "--fps"), (["--fps", "nan"], "--fps"), (["--fps", "inf"], "--fps"),
    (["--fps", "thirty"], "--fps"), (["--fps", "5000"], "--fps"),
    (["--speed", "0"], "--speed"), (["--speed", "nan"], "--speed"), (["--speed", "100"], "--speed"),
    (["--gain", "-1"], "--gain"), (["--gain", "nan"], "--gain"), (["--gain", "inf"], "--gain"),
    (["--threads", "0"], "--threads"), (["--threads", "1.5"], "--threads"), (["--batch", "0", "--benchmark"], "--batch"),
    (["--frames", "0"], "--frames"), (["--frames", "-3"], "--frames"), (["--frames", "nan"], "--frames"),
    (["--seed", "-1"], "--seed"), (["--seed", "x"], "--seed"),
    (["--start", "-1"], "--start"), (["--start", "99", "--benchmark"], "--start"), (["--start", "1.5"], "--start"),
    (["--size", "0x100"], "--size"), (["--size", "100"], "--size"), (["--size", "99999x10"], "--size"),
    (["--react", "gain=nan"], "--react"), (["--react", "bass=1"], "--react"), (["--react", "kick=-1"], "--react"),
    (["--react", "gain=x"], "--react"),
    (["--provider", "gpu"], "--provider"), (["--demo", "{model}"], "--demo"),
    (["--out", "{tmp}/missing/x.mp4"], "does not exist"), (["--out", "{tmp}/x.avi2"], ".mp4"),
    (["--out", "{tmp}/x.mp4", "--audio"], "--audio-file"),
    (["--stats-json", "{tmp}/missing/s.json", "--headless"], "does not exist"),
    (["--stats-json", "{tmp}", "--headless"], "is a folder"),
    (["--audio-file", "{tmp}/missing.wav", "--out", "{tmp}/x.mp4"], "missing.wav"),
    (["--capture-dir", "{tmp}/missing"], "--capture-dir"),
    (["--audio", "--audio-file", "{tmp}/x.wav"], "not both"),
]


@pytest.mark.parametrize("argv, fragment", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_options_are_refused_before_any_work(capsys, tmp_path, demo_model, argv, fragment):
    argv = [a.format(tmp=tmp_path, model=demo_model) for a in argv]
    argv = argv if argv[0] == "--demo" else [demo_model, *argv]
    assert_refused(capsys, main, argv, fragment)
    assert sorted(os.listdir(tmp_path)) == []  # nothing written


def onnx_without_dvtex(path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["h"], ["frame"])], "g",
                              [helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 10])],
                              [helper.make_tensor_value_info("frame", TensorProto.FLOAT, [1, 10])])
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_bad_model_files_are_refused(capsys, tmp_path):
    (tmp_path / "garbage.onnx").write_bytes(b"\x08\x01garbage")
    (tmp_path / "empty.onnx").write_bytes(b"")
    (tmp_path / "folder.onnx").mkdir()
    cases = [(tmp_path / "none.onnx", "no such model file"), (tmp_path / "garbage.onnx", "not a readable ONNX model"),
             (tmp_path / "empty.onnx", "not a readable ONNX model"), (tmp_path / "folder.onnx", "is a folder"),
             (tmp_path, "is a folder"), (onnx_without_dvtex(tmp_path / "plain.onnx"), "without dvtex metadata")]
    for model, fragment in cases:
        assert_refused(capsys, main, [model, "--headless", "--frames", "1"], fragment)


@pytest.mark.parametrize("fps, rate", [("29.97", "30000/1001"), ("12.5", "25/2"), ("23.976", "24000/1001"), ("1", "1")])
def test_any_frame_rate_renders_exactly(tmp_path, demo_model, fps, rate):
    out = tmp_path / "x.mp4"
    assert run_main(main, [demo_model, "--fps", fps, "--frames", 12, "--out", out]) == 0
    with av.open(str(out)) as f:
        assert str(f.streams.video[0].average_rate) == rate
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    assert len(frames) == 12 and all(fr.std() > 1 for fr in frames)  # real pictures, not black


def test_one_frame_per_second_gif_and_pngs(tmp_path, demo_model):
    assert run_main(main, [demo_model, "--fps", "1", "--frames", 3, "--out", tmp_path / "x.gif"]) == 0
    with Image.open(tmp_path / "x.gif") as gif:
        assert gif.n_frames == 3 and gif.info["duration"] == 1000
    assert run_main(main, [demo_model, "--fps", "0.5", "--out", tmp_path / "pngs"]) == 0
    assert len(os.listdir(tmp_path / "pngs")) == 5  # 10 s at half a frame per second


@needs_display
def test_a_huge_window_plays(tmp_path, demo_model):
    stats = tmp_path / "s.json"
    assert run_main(main, [demo_model, "--size", "4096x2304", "--frames", 5, "--stats-json", stats]) == 0
    import json

    assert json.loads(stats.read_text())["frames"] == 5


@needs_display
def test_recording_at_ntsc_rate_from_the_window(tmp_path, demo_model):
    from pyglet.window import key

    from dvtex.player.producer import FrameProducer
    from dvtex.player.render import VideoWriter
    from dvtex.player.source import FrameSource
    from dvtex.player.stats import PlaybackStats
    from dvtex.player.window import PlayerWindow

    producer = FrameProducer(FrameSource.open(demo_model, provider="cpu")).start()
    window = PlayerWindow(producer, 29.97, PlaybackStats(29.97, "cpu"), size=(128, 128), log=lambda m: None,
                          recorder=lambda p: VideoWriter(p, 29.97, 64, 64), capture_dir=str(tmp_path))
    try:
        window.on_key_press(key.V, 0)
        window.run(10)
        window.on_key_press(key.V, 0)
    finally:
        producer.stop()
        window.close()
    (video,) = tmp_path.glob("*.mp4")
    with av.open(str(video)) as f:
        assert str(f.streams.video[0].average_rate) == "30000/1001"
        assert sum(1 for _ in f.decode(video=0)) == 10
    assert window.faults == []
