"""Into the show, over loopback: OSC changes a running player and a malformed packet changes nothing;
an NDI receiver and a UDP stream get the frames TextureStream makes with the same seed; --out - writes
exactly N*H*W*3 bytes; MIDI messages move the same controls; several outputs share one decode."""

import json
import socket
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest

from dvtex.player import TextureStream

from conftest import ROOT, assert_user_error, run_module


def frames_of(model, count, seed=0):
    with TextureStream(str(model), seed=seed, provider="cpu") as tex:
        return [tex.next_frame() for _ in range(count)]


def wait_until(condition, timeout=20.0):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


class Running:
    """A headless show on a thread: FrameSource -> producer -> paced clock -> outputs."""

    def __init__(self, model, outputs=(), fps=60, frames=None, seed=0):
        from dvtex.player.outputs import Outputs
        from dvtex.player.producer import FrameProducer
        from dvtex.player.show import HeadlessShow
        from dvtex.player.source import FrameSource
        from dvtex.player.stats import PlaybackStats

        self.source = FrameSource.open(str(model), seed=seed, provider="cpu")
        self.producer = FrameProducer(self.source, PlaybackStats(fps, "cpu")).start()
        self.outputs = Outputs(outputs, log=lambda m: None)
        self.show = HeadlessShow(self.producer, fps, self.producer.stats, self.outputs)
        self.thread = threading.Thread(target=self.show.run, args=(frames,), daemon=True)
        self.thread.start()

    def stop(self):
        self.show.stopped = True
        self.thread.join(timeout=10)
        self.producer.stop()
        self.outputs.close()
        self.source.close()


def test_the_clock_draws_as_soon_as_the_frame_is_there_and_ticks_on_time(monkeypatch):
    """On a simulated clock (each reading 1 us later; sleep and prepare move it on): a frame is ready
    7 ms after each tick and drawing it costs 5 ms. prepare waits for it instead of sleeping, draws it
    once it is there, before the tick and never past it, and every tick lands on the clock. (The first
    tick comes at once, with nothing drawn ahead: a window's tick then draws for itself.)"""
    from dvtex.player import show

    clock = [100.0]

    def reading():
        clock[0] += 1e-6
        return clock[0]

    def sleep(seconds):
        clock[0] += seconds

    monkeypatch.setattr(show.time, "perf_counter", reading)
    monkeypatch.setattr(show.time, "sleep", sleep)
    events, ready_at = [], [100.0]

    def prepare(timeout):
        assert timeout > 0
        if clock[0] + timeout < ready_at[0]:
            clock[0] += timeout  # waited the whole timeout: not there yet
            return False
        clock[0] = max(clock[0], ready_at[0])
        events.append(("draw", clock[0]))
        clock[0] += 0.005
        return True

    def tick(now):
        events.append(("tick", now))
        ready_at[0] = now + 0.007  # the next frame is decoded after the flip

    assert show.paced(50, tick, max_frames=40, prepare=prepare) == 40
    assert [kind for kind, _ in events] == ["tick"] + ["draw", "tick"] * 39
    ticks = np.array([t for kind, t in events if kind == "tick"])
    draws = np.array([t for kind, t in events if kind == "draw"])
    assert np.allclose(ticks, ticks[0] + 0.02 * np.arange(40), atol=1e-4)  # the drawing fell before each tick
    assert np.allclose(draws - ticks[:-1], 0.007, atol=1e-4)  # drawn as soon as the frame was there


def test_osc_changes_speed_gain_and_pause_and_a_malformed_packet_changes_nothing(onnx_model):
    from pythonosc.udp_client import SimpleUDPClient

    from dvtex.player.osc import OscControl

    show = Running(onnx_model)
    osc = OscControl(show.source.controls, "127.0.0.1", 0).start()
    client = SimpleUDPClient(*osc.address)
    try:
        client.send_message("/dvtex/speed", 2.0)
        client.send_message("/dvtex/gain", 7.5)  # out of range: clamped as the keys clamp it
        wait_until(lambda: show.source.speed == 2.0 and show.source.gain == 3.0)
        before = (show.source.speed, show.source.gain, show.source.seed)
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.sendto(b"\x00garbage that is no OSC packet", osc.address)
        client.send_message("/dvtex/speed", "fast")  # a string where a number goes
        client.send_message("/dvtex/nothing", 1.0)
        client.send_message("/dvtex/gain", [])  # no argument
        wait_until(lambda: osc.received == 6)
        assert (osc.malformed, osc.unknown, osc.applied) == (3, 1, 2)
        time.sleep(0.1)
        assert (show.source.speed, show.source.gain, show.source.seed) == before
        client.send_message("/dvtex/pause", 1)
        wait_until(lambda: show.producer.paused)
        time.sleep(0.2)  # the frame made before the pause is still shown once
        held = show.producer.shown_index
        time.sleep(0.2)
        assert show.producer.shown_index == held  # paused: the picture holds
        client.send_message("/dvtex/step", [])
        wait_until(lambda: show.producer.shown_index == held + 1)
        client.send_message("/dvtex/pause", 0)
        wait_until(lambda: show.producer.shown_index > held + 5)
        client.send_message("/dvtex/reseed", 42)
        wait_until(lambda: show.source.seed == 42)
        applied = show.source.controls.applied
        client.send_message("/dvtex/kick", 2.0)
        wait_until(lambda: show.source.controls.applied == applied + 1)
        assert "malformed" in osc.describe()
    finally:
        osc.close()
        show.stop()


def test_osc_listens_on_localhost_unless_told_otherwise():
    from dvtex.player.osc import parse_endpoint

    assert parse_endpoint("9000") == ("127.0.0.1", 9000)
    assert parse_endpoint("0.0.0.0:9000") == ("0.0.0.0", 9000)
    for bad in ("x", "-1", "70000", "host:"):
        with pytest.raises(Exception, match="--osc"):
            parse_endpoint(bad)


def test_osc_feedback_sends_the_frame_index(onnx_model):
    from dvtex.player.osc import OscFeedback

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(10)
    show = Running(onnx_model, [OscFeedback(*sink.getsockname())], frames=5)
    try:
        from pythonosc.osc_message import OscMessage

        got = [OscMessage(sink.recvfrom(1024)[0]) for _ in range(5)]
    finally:
        show.stop()
    assert [m.address for m in got] == ["/dvtex/frame"] * 5
    assert [m.params[0] for m in got] == sorted(m.params[0] for m in got)


def own_listening_ports():
    """TCP ports this process listens on (/proc/net/tcp rows in state LISTEN whose socket is ours)."""
    import os

    ours = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            ours.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.readlines()[1:]:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in ours:
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def ndi_receiver(port):
    NDIlib = pytest.importorskip("NDIlib")  # initialized by the sender's NDIOutput
    settings = NDIlib.RecvCreateV3()
    settings.color_format = NDIlib.RECV_COLOR_FORMAT_RGBX_RGBA
    receiver = NDIlib.recv_create_v3(settings)
    source = NDIlib.Source()
    source.url_address = f"127.0.0.1:{port}"  # no mDNS here: connect to the sender by address
    NDIlib.recv_connect(receiver, source)
    return NDIlib, receiver


def test_an_ndi_receiver_gets_the_frames_texture_stream_makes(onnx_model):
    from dvtex.player.outputs import NDIOutput

    before = own_listening_ports()
    out = NDIOutput("dvtex-test", 60, 32, 32)
    show = Running(onnx_model, [out], fps=60)
    # the sender's port: 5961 for the first NDI sender on a machine, the next free one after that
    wait_until(lambda: [p for p in own_listening_ports() - before if p > 5960])
    port = min(p for p in own_listening_ports() - before if p > 5960)
    ndi, receiver = ndi_receiver(port)
    got = {}
    try:
        end = time.monotonic() + 30
        while len(got) < 20 and time.monotonic() < end:
            kind, video, _, _ = ndi.recv_capture_v2(receiver, 200)
            if kind == ndi.FRAME_TYPE_VIDEO:
                got[int(video.timecode)] = video.data[..., :3].copy()
                ndi.recv_free_video_v2(receiver, video)
    finally:
        ndi.recv_destroy(receiver)
        show.stop()
    assert len(got) >= 20
    want = frames_of(onnx_model, max(got) + 1)
    for index, frame in got.items():
        diff = np.abs(frame.astype(int) - want[index].astype(int))
        assert frame.shape == (32, 32, 3) and diff.mean() < 4 and diff.max() < 48, index  # NDI's YUV round trip


def receive_udp(port, stop):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(0.2)
    data = bytearray()
    while not stop.is_set():
        try:
            data += sock.recv(65536)
        except socket.timeout:
            continue
    sock.close()
    return bytes(data)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_udp_stream_decodes_to_the_frames_sent(onnx_model, tmp_path):
    from dvtex.player.outputs import StreamOutput

    port, stop, received = free_udp_port(), threading.Event(), []
    listener = threading.Thread(target=lambda: received.append(receive_udp(port, stop)))
    listener.start()
    time.sleep(0.2)
    want = frames_of(onnx_model, 30)
    out = StreamOutput(f"udp://127.0.0.1:{port}", 30, 32, 32)
    for i, frame in enumerate(want):
        out.send(frame, i)
        time.sleep(0.002)  # a loopback socket buffer is finite: do not burst 30 frames at once
    out.close()
    time.sleep(0.3)
    stop.set()
    listener.join()
    (tmp_path / "got.ts").write_bytes(received[0])
    with av.open(str(tmp_path / "got.ts")) as f:
        got = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    assert len(got) == 30
    for a, b in zip(got, want):
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 6  # H.264 at crf 20


def test_out_dash_writes_exactly_n_frames_of_raw_rgb(onnx_model):
    want = b"".join(f.tobytes() for f in frames_of(onnx_model, 7))
    offline = subprocess.run([sys.executable, "-m", "dvtex.player", str(onnx_model), "--out", "-", "--frames", "7"],
                             capture_output=True, timeout=120, cwd=ROOT)
    assert offline.returncode == 0, offline.stderr
    assert len(offline.stdout) == 7 * 32 * 32 * 3 and offline.stdout == want
    live = subprocess.run([sys.executable, "-m", "dvtex.player", str(onnx_model), "--headless", "--fps", "60", "--out",
                           "-", "--frames", "7"], capture_output=True, timeout=120, cwd=ROOT)
    assert live.returncode == 0, live.stderr
    assert len(live.stdout) == 7 * 32 * 32 * 3 and live.stdout[:32 * 32 * 3] == want[:32 * 32 * 3]


def test_several_outputs_share_one_decode_per_frame(onnx_model, tmp_path):
    import io

    from dvtex.player.osc import OscFeedback
    from dvtex.player.outputs import PipeOutput, StreamOutput

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    pipe, stream = PipeOutput(stream=io.BytesIO()), StreamOutput(f"udp://127.0.0.1:{free_udp_port()}", 60, 32, 32)
    show = Running(onnx_model, [pipe, stream, OscFeedback(*sink.getsockname())], fps=60, frames=40)
    show.thread.join(timeout=60)
    decodes = show.producer.stats.decodes.count
    show.outputs.flush()
    skipped = show.outputs.skipped  # a frame is skipped only when the outputs' thread is still busy
    show.stop()
    assert pipe.frames == stream.sent == 40 - skipped and skipped < 5
    assert len(pipe.pipe.getvalue()) == pipe.frames * 32 * 32 * 3
    assert decodes <= 42  # one decode per frame (the producer makes at most two ahead), not one per output


def test_midi_messages_move_the_controls(onnx_model, tmp_path):
    mido = pytest.importorskip("mido")
    from dvtex.player.midi import MidiControl, load_map, speed_to_cc
    from dvtex.player.source import FrameSource

    source = FrameSource.open(str(onnx_model), provider="cpu")
    midi = MidiControl(source.controls)
    midi.handle(mido.Message("control_change", control=1, value=127))
    midi.handle(mido.Message("control_change", control=2, value=0))
    midi.handle(mido.Message("control_change", control=99, value=10))  # not mapped
    source.produce(np.zeros(source.frame_shape, np.uint8))
    assert source.speed == pytest.approx(8.0) and source.gain == 0.0 and midi.ignored == 1
    midi.handle(mido.Message("control_change", control=1, value=speed_to_cc(1.0)))
    midi.handle(mido.Message("note_on", note=60, velocity=100))
    kicks_before = source.controls.applied
    source.produce(np.zeros(source.frame_shape, np.uint8))
    assert source.speed == pytest.approx(1.0, rel=0.05) and source.controls.applied > kicks_before
    (tmp_path / "map.json").write_text(json.dumps({"cc": {"20": "gain"}, "note": None}))
    (tmp_path / "map.toml").write_text('note = "kick"\n[cc]\n21 = "react/kick"\n')
    assert load_map(str(tmp_path / "map.json")) == {"cc": {"20": "gain"}, "note": None}
    assert load_map(str(tmp_path / "map.toml"))["cc"] == {"21": "react/kick"}
    (tmp_path / "bad.json").write_text(json.dumps({"cc": {"200": "gain"}}))
    with pytest.raises(Exception, match="CC numbers 0..127"):
        load_map(str(tmp_path / "bad.json"))
    source.close()


def midi_system():
    from dvtex.errors import UserError
    from dvtex.player.midi import input_names

    try:
        input_names()
        return True
    except UserError:
        return False


def test_midi_port_without_a_midi_system_is_one_line(onnx_model):
    pytest.importorskip("rtmidi")
    if midi_system():
        pytest.skip("this machine has a MIDI system")
    assert_user_error(run_module("dvtex.player", onnx_model, "--headless", "--midi", "--frames", "3"), "no MIDI system")


def test_midi_port_drives_the_player(onnx_model):
    mido = pytest.importorskip("mido")
    pytest.importorskip("rtmidi")
    if not midi_system():
        pytest.skip("no MIDI system (no ALSA sequencer) on this machine")
    from dvtex.player.midi import MidiControl
    from dvtex.player.source import FrameSource

    source = FrameSource.open(str(onnx_model), provider="cpu")
    with mido.open_output("dvtex-test-out", virtual=True) as port:
        midi = MidiControl(source.controls).open_port("dvtex-test-out")
        port.send(mido.Message("control_change", control=2, value=127))
        wait_until(lambda: midi.handled == 1)
        midi.close()
    source.produce(np.zeros(source.frame_shape, np.uint8))
    assert source.gain == 3.0
    source.close()


@pytest.mark.parametrize("argv, fragment", [
    (["--ndi", " "], "--ndi"), (["--stream", "http://x"], "--stream"), (["--osc", "99999"], "--osc"),
    (["--osc-out", "x"], "--osc-out"), (["--midi-map", "m.json"], "--midi"), (["--out", "x.mp4", "--ndi", "a"], "--ndi"),
    (["--benchmark", "--ndi", "a"], "--benchmark"), (["--headless", "--out", "x.mp4"], "--headless"),
])
def test_show_options_that_cannot_work_are_refused(capsys, demo_model, argv, fragment):
    from dvtex.player.cli import main

    from conftest import assert_refused

    assert_refused(capsys, main, [demo_model, *argv], fragment)


def test_headless_plays_at_the_rate_into_its_outputs(demo_model, tmp_path):
    stats = tmp_path / "s.json"
    proc = run_module("dvtex.player", demo_model, "--headless", "--fps", "29.97", "--frames", "20", "--stats-json", stats,
                      "--osc", "0")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(stats.read_text())
    assert data["frames"] == 20 and data["fps_target"] == 29.97
    assert "OSC 127.0.0.1:" in proc.stderr  # listening on localhost


@pytest.mark.parametrize("url, fragment", [("rtmp://127.0.0.1:1/live/x", "cannot connect"),
                                           ("srt://127.0.0.1:9/x", "srt")])
def test_a_stream_that_cannot_open_is_refused_in_one_line(demo_model, url, fragment):
    proc = run_module("dvtex.player", demo_model, "--headless", "--stream", url, "--frames", "3")
    if url.startswith("srt") and proc.returncode == 0:
        pytest.skip("this PyAV's FFmpeg has SRT")
    assert_user_error(proc, "--stream", fragment)
