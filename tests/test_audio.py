import wave

import av
import numpy as np
import pytest

from dvtex.player import load_model
from dvtex.player.audio import AudioReactor, AudioSource, FileAudio
from dvtex.player.audio_features import AudioFeatures, Reaction
from dvtex.player.stream import LatentStream

from conftest import assert_user_error, run_module

RATE, FPS = 16000, 25
BLOCK = RATE // FPS


def write_wav(path, samples, rate=RATE):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def clicks(seconds, at, rate=RATE):
    x = np.zeros(int(seconds * rate), np.float32)
    for t in at:
        x[int(t * rate):int(t * rate) + 40] = 0.9
    return x


def run_features(signal):
    feats = AudioFeatures(RATE, BLOCK)
    rows = []
    for start in range(0, len(signal) - BLOCK + 1, BLOCK):
        feats.update(signal[start:start + BLOCK])
        rows.append((feats.envelope, feats.onset, *feats.bands))
    return np.array(rows)


def test_envelope_follows_sine_bursts_and_returns_to_zero():
    t = np.arange(4 * RATE) / RATE
    signal = (np.sin(2 * np.pi * 440 * t) * ((t > 1) & (t < 2)) * 0.5).astype(np.float32)
    env = run_features(signal)[:, 0]
    assert env[:FPS].max() == 0  # silence
    assert env[int(1.2 * FPS):2 * FPS].min() > 0.5  # fast attack
    assert 0 < env[2 * FPS + 2] < env[2 * FPS - 1]  # slower release
    assert env[-5:].max() == 0  # and back to silence


def test_onsets_mark_clicks_only():
    onset = run_features(clicks(3, [0.5, 1.5, 2.5]))[:, 1]
    for hit in np.flatnonzero(onset > 0.5):
        assert any(0 <= hit - int(t * RATE) // BLOCK <= 2 for t in (0.5, 1.5, 2.5)), hit  # the click's block or the next two
    for t in (0.5, 1.5, 2.5):
        assert onset[int(t * FPS):int(t * FPS) + 2].max() > 0.5
    assert onset[int(0.8 * FPS):int(1.4 * FPS)].max() == 0


def test_bands_separate_low_mid_high_and_noise_fills_them():
    t = np.arange(2 * RATE) / RATE
    for freq, band in ((60, 0), (800, 1), (5000, 2)):
        rows = run_features((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32))
        energies = rows[-10:, 2:].mean(axis=0)
        assert energies.argmax() == band, (freq, energies)
    noise = np.random.default_rng(0).standard_normal(2 * RATE).astype(np.float32) * 0.3
    assert (run_features(noise)[-10:, 2:].mean(axis=0) > 0.3).all()


def test_level_normalisation_makes_quiet_and_loud_alike():
    t = np.arange(6 * RATE) / RATE
    music = (np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))).astype(np.float32)
    loud, quiet = run_features(0.8 * music)[:, 0], run_features(0.02 * music)[:, 0]  # -0 dB vs about -37 dB
    assert np.abs(loud[FPS:] - quiet[FPS:]).max() < 0.05 and loud[FPS:].max() > 0.8


def test_callback_path_hands_blocks_over_and_survives_errors():
    source = AudioSource(RATE, FPS, "synthetic")
    block = np.full((BLOCK, 1), 0.5, np.float32)
    source.input_callback(block, BLOCK, None, "input overflow")
    source.input_callback(None, BLOCK, None, None)  # a broken block: counted, not raised
    assert source.blocks.qsize() == 1 and source.errors == 1 and "callback error" in source.status
    block[:] = 0  # the queue holds a copy, not PortAudio's buffer
    assert source.blocks.get_nowait().max() == pytest.approx(0.5)


def test_a_click_through_the_file_source_moves_the_innovation_within_two_frames(onnx_model, tmp_path):
    write_wav(tmp_path / "click.wav", clicks(3, [1.5]))
    _, info = load_model(str(onnx_model), "cpu")
    audio = FileAudio(str(tmp_path / "click.wav"), FPS, play=False)
    reactor = AudioReactor(audio, LatentStream(info), Reaction())
    bursts = [reactor(audio.block_for_frame(i)) for i in range(3 * FPS)]
    moved = [i for i, b in enumerate(bursts) if b is not None and np.abs(b).max() > 0.5]
    click_frame = 1.5 * FPS
    assert moved and click_frame <= moved[0] <= click_frame + 2


def test_after_silence_the_latent_returns_to_its_trained_statistics(onnx_model):
    _, info = load_model(str(onnx_model), "cpu")
    source = AudioSource(RATE, FPS, "synthetic")
    stream = LatentStream(info, seed=2)
    reactor = AudioReactor(source, stream, Reaction(gain=1.0, kick=1.0, speed=0.5))
    rng = np.random.default_rng(0)
    for _ in range(10 * FPS):  # loud noise: gain and speed up, bursts
        source.input_callback(rng.standard_normal((BLOCK, 1)).astype(np.float32) * 0.5, BLOCK, None, None)
        stream.step(reactor())
    assert stream.audio_gain > 1.5
    quiet, states = np.zeros((BLOCK, 1), np.float32), []
    for i in range(30000):
        source.input_callback(quiet, BLOCK, None, None)
        h = stream.step(reactor())
        if i > 3 * FPS:
            states.append(h[0].copy())
    assert stream.audio_gain == 1.0 and stream.audio_speed == 1.0
    assert np.abs(np.cov(np.array(states, np.float64).T) - np.eye(info.n)).max() < 0.15


def test_device_listing_and_errors_without_devices(onnx_model):
    sd = pytest.importorskip("sounddevice")  # PortAudio present: CI installs libportaudio2
    proc = run_module("dvtex.player", "--list-audio-devices")
    assert proc.returncode == 0, proc.stderr
    has_input = any(d["max_input_channels"] > 0 for d in sd.query_devices())
    if not has_input:
        assert_user_error(run_module("dvtex.player", onnx_model, "--audio"), "no audio input device")
        assert_user_error(run_module("dvtex.player", onnx_model, "--audio", "mic"), "no audio input device")
    assert_user_error(run_module("dvtex.player", onnx_model, "--react", "volume=2", "--headless"), "--react")


def test_offline_render_with_audio_is_muxed_and_differs_only_from_the_clicks_on(onnx_model, tmp_path):
    from PIL import Image

    write_wav(tmp_path / "clicks.wav", clicks(3, [1.0, 2.0]))
    n = 3 * FPS
    proc = run_module("dvtex.player", onnx_model, "--frames", n, "--fps", FPS, "--out", tmp_path / "clicks.mp4",
                      "--audio-file", tmp_path / "clicks.wav")
    assert proc.returncode == 0, proc.stderr
    with av.open(str(tmp_path / "clicks.mp4")) as f:
        audio = f.streams.audio[0]
        assert audio.duration * audio.time_base == pytest.approx(3.0, abs=0.1)
        assert sum(1 for _ in f.decode(video=0)) == n
    frames = {}
    for name, extra in (("silent", []), ("clicks", ["--audio-file", tmp_path / "clicks.wav"])):  # lossless PNGs
        proc = run_module("dvtex.player", onnx_model, "--frames", n, "--fps", FPS, "--out", tmp_path / name, *extra)
        assert proc.returncode == 0, proc.stderr
        frames[name] = np.array([np.asarray(Image.open(tmp_path / name / f"frame_{i:06d}.png")) for i in range(n)], int)
    diff = np.abs(frames["silent"] - frames["clicks"]).reshape(n, -1).max(axis=1)
    first = int(np.flatnonzero(diff > 0)[0])
    assert FPS <= first <= FPS + 2  # identical until the first click, changed within two frames of it


def test_an_onset_survives_when_a_frame_drains_several_blocks(onnx_model):
    _, info = load_model(str(onnx_model), "cpu")
    source = AudioSource(RATE, FPS, "synthetic")
    reactor = AudioReactor(source, LatentStream(info), Reaction())
    signal = clicks(2, [1.0])
    blocks = [signal[i:i + BLOCK, None] for i in range(0, len(signal), BLOCK)]
    click = int(1.0 * RATE) // BLOCK
    for b in blocks[:click]:
        source.input_callback(b, BLOCK, None, None)
        reactor()
    for b in blocks[click:click + 2]:  # jitter: the click block and the next arrive before one frame
        source.input_callback(b, BLOCK, None, None)
    burst = reactor()
    assert burst is not None and np.abs(burst).max() > 0.5
