"""Programming a show: perfect loops (the bridge's maths, a rendered loop's seam), playlists that switch
at the given frames with crossfades that are the blend of the two models' frames, scenes that round-trip."""

import json

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dvtex.dynamics import TimeScaler, stabilize
from dvtex.player import TextureStream
from dvtex.player.loop import cycle_covariance, perfect_loop

from conftest import assert_refused, run_main


def loop_covariances(A, N):
    """The exact covariance of every loop state h_t (before the C_N^-1/2 map), from the construction:
    h_0 ~ N(0, C_N) and h_t = x_t + K_t (h_0 - x_N), x the free path from h_0 (Matheron's rule)."""
    n = len(A)
    C = cycle_covariance(A, N)
    P = [np.linalg.matrix_power(A, k) for k in range(N + 1)]
    S_N = np.eye(n) - P[N] @ P[N].T
    covs = []
    for t in range(N):
        sigma = np.eye(n) - P[t] @ P[t].T
        K = sigma @ P[N - t].T @ np.linalg.inv(S_N)
        M = P[t] + K @ (np.eye(n) - P[N])
        covs.append(M @ C @ M.T + sigma - K @ P[N - t] @ sigma)
    return C, covs


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 4), N=st.integers(2, 40), scale=st.floats(0.1, 3.0))
def test_the_loop_covariance_is_identity_at_every_step_for_any_stable_A(seed, n, N, scale):
    """Exactly, for any stable A: every state of the cyclic chain has covariance C_N, so after C_N^-1/2
    every loop state has covariance I. The loop closes by construction (h_N = h_0 is its first state)."""
    A, B = stabilize(np.random.default_rng(seed).standard_normal((n, n)) * scale)
    C, covs = loop_covariances(A, N)
    root_inv = np.linalg.inv(__import__("dvtex.dynamics", fromlist=["psd_sqrt"]).psd_sqrt(C))
    for t, cov in enumerate(covs):
        assert np.allclose(root_inv @ cov @ root_inv.T, np.eye(n), atol=1e-6), t
    loop = perfect_loop(A, B, N, np.random.default_rng(seed))
    assert loop.shape == (N, n) and np.isfinite(loop).all()


def test_a_sampled_loop_has_identity_covariance_and_a_seam_like_its_inside():
    rng = np.random.default_rng(0)
    A, B = stabilize(np.array([[0.9, -0.3], [0.3, 0.9]]) * 1.05)  # a slow rotation
    N, runs = 10, 6000
    loops = np.array([perfect_loop(A, B, N, rng) for _ in range(runs)])  # (R, N, n)
    for t in range(N):
        assert np.abs(np.cov(loops[:, t].T) - np.eye(2)).max() < 0.08, t
    lag1 = [np.einsum("ri,rj->ij", loops[:, (t + 1) % N], loops[:, t]) / runs for t in range(N)]
    inside = np.array(lag1[:-1])
    seam = lag1[-1]  # from the last state back to the first
    assert np.abs(seam - inside.mean(0)).max() < 4 * inside.std(0).max() + 0.05


def test_loops_keep_the_speed_control(onnx_model):
    from dvtex.player.stream import LoopStream
    from dvtex.player.modelfile import load_model

    _, info = load_model(str(onnx_model), "cpu")
    s = LoopStream(info, 12, seed=1)
    first = np.array([s.step()[0].copy() for _ in range(24)])
    assert np.allclose(first[:12], first[12:])  # round and round
    s.speed = 2.0
    again = np.array([s.step()[0].copy() for _ in range(12)])  # the speed takes effect at the seam
    assert not np.allclose(again, first[:12])
    A2, _ = TimeScaler(info.A)(2.0)
    assert A2.shape == (info.n, info.n)


@pytest.mark.parametrize("ext", ["webm", "mp4", "gif"])
def test_a_rendered_loop_is_seamless(demo_model, tmp_path, ext):
    """Over seeds: the frame difference across the seam lies within the spread of those inside the loop,
    and ranks among them like any other transition (it is one, statistically)."""
    from dvtex.player.cli import main

    ranks, seams, insides = [], [], []
    for seed in range(8):
        out = tmp_path / f"loop{seed}.{ext}"
        assert run_main(main, [demo_model, "--loop", 48, "--seed", seed, "--out", out]) == 0
        if ext == "gif":
            from PIL import Image, ImageSequence

            frames = [np.asarray(f.convert("RGB"), float) for f in ImageSequence.Iterator(Image.open(out))]
        else:
            with av.open(str(out)) as f:
                frames = [fr.to_ndarray(format="rgb24").astype(float) for fr in f.decode(video=0)]
        assert len(frames) == 48  # exactly one loop
        diffs = np.array([np.abs(frames[(i + 1) % 48] - frames[i]).mean() for i in range(48)])
        seams.append(diffs[-1])
        insides.append(diffs[:-1])
        ranks.append((diffs[:-1] < diffs[-1]).mean())
    # consecutive differences drift slowly along a loop, so the spread is taken over seeds
    pooled = np.concatenate(insides)
    assert all(pooled.min() <= seam <= pooled.max() for seam in seams), (seams, pooled.min(), pooled.max())
    assert 0.15 < np.mean(ranks) < 0.85, ranks  # neither always the smallest change nor the largest


def test_the_seam_ranks_among_the_transitions_like_any_other():
    """Every rotation of a loop is as likely as the loop (the chain lives on a circle): over many loops the
    seam's rank among the N transitions' lengths is uniform."""
    rng = np.random.default_rng(1)
    A, B = stabilize(rng.standard_normal((6, 6)) * 1.5)
    ranks = []
    for _ in range(400):
        loop = perfect_loop(A, B, 24, rng)
        steps = np.linalg.norm(np.roll(loop, -1, axis=0) - loop, axis=1)
        ranks.append((steps[:-1] < steps[-1]).mean())
    counts = np.histogram(ranks, bins=4, range=(0, 1))[0]
    assert abs(np.mean(ranks) - 0.5) < 0.05 and counts.min() > 60, counts  # 100 each expected


def two_models(onnx_model, tmp_path):
    """Two different models: the water model and the demo fire (another size: 64x64 against 32x32)."""
    from conftest import ROOT

    return str(onnx_model), f"{ROOT}/player/demo/fire64.onnx"


def test_a_playlist_switches_at_the_given_frames_and_fades_by_blending(onnx_model, tmp_path):
    from dvtex.player.cli import main
    from dvtex.player.playlist import Scaled

    water, fire = two_models(onnx_model, tmp_path)
    out = tmp_path / "pngs"
    # at 10 fps: switch every 2 s (frame 20), a 0.5 s crossfade (5 frames); 45 frames: water, fade, fire, fade, water
    assert run_main(main, [water, fire, "--fps", 10, "--switch-every", 2, "--crossfade", 0.5, "--frames", 45,
                           "--out", out]) == 0
    got = [np.asarray(__import__("PIL.Image").Image.open(out / f"frame_{i:06d}.png")) for i in range(45)]
    assert got[0].shape == (64, 64, 3)  # the larger model's size
    with TextureStream(water, seed=0, provider="cpu") as a, TextureStream(fire, seed=0, provider="cpu") as b:
        scale = Scaled(a, (64, 64, 3))
        water_frames = [scale.produce(np.zeros((64, 64, 3), np.uint8)).copy() for _ in range(45)]
        fire_frames = [b.next_frame() for _ in range(45)]
    for i in range(20):  # water alone (every model keeps its own process)
        assert np.array_equal(got[i], water_frames[i]), i
    for k in range(5):  # frames 20..24: the blend, weight (k + 1) / 6
        w = (k + 1) / 6
        want = np.rint(water_frames[20 + k].astype(np.float32) * np.float32(1 - w)
                       + fire_frames[k].astype(np.float32) * np.float32(w))
        assert np.array_equal(got[20 + k], want.astype(np.uint8)), k
    for i in range(25, 40):  # fire alone, its process running since the fade began
        assert np.array_equal(got[i], fire_frames[i - 20]), i
    assert not np.array_equal(got[40], fire_frames[20])  # the next switch (frame 40) begins a fade back


def test_osc_and_keys_choose_the_playlist_model(onnx_model, tmp_path):
    from dvtex.player.playlist import Playlist
    from dvtex.player.source import FrameSource

    water, fire = two_models(onnx_model, tmp_path)
    playlist = Playlist([FrameSource.open(m, provider="cpu") for m in (water, fire)], fps=30, crossfade=0,
                        log=lambda m: None)
    buf = np.zeros(playlist.frame_shape, np.uint8)
    playlist.controls.select_model(1)
    playlist.produce(buf)
    playlist.produce(buf)
    assert playlist.current == 1
    playlist.controls.next_model(1)
    playlist.controls.set_crossfade(0.1)
    playlist.produce(buf)
    assert playlist.target == 0 and playlist.crossfade == pytest.approx(0.1)
    for _ in range(5):
        playlist.produce(buf)
    assert playlist.current == 0 and playlist.target is None
    playlist.close()


def test_scenes_round_trip_and_start_a_show(onnx_model, tmp_path, capsys):
    from dvtex.player.cli import main, parse_args
    from dvtex.player.scene import load_scene, save_scene
    from dvtex.player.source import FrameSource

    args = parse_args([str(onnx_model), "--speed", "1.5", "--gain", "0.5", "--seed", "7", "--react", "kick=0.3"])
    source = FrameSource.open(str(onnx_model), seed=7, provider="cpu", speed=1.5, gain=0.5)
    path = save_scene(str(tmp_path), args, source)
    source.close()
    scene = load_scene(path)
    assert scene["speed"] == 1.5 and scene["gain"] == 0.5 and scene["seed"] == 7 and scene["react"]["kick"] == 0.3
    again = parse_args(["--scene", path])
    assert (again.models, again.speed, again.gain, again.seed) == ([str(onnx_model.resolve())], 1.5, 0.5, 7)
    assert again.react.kick == 0.3
    assert parse_args(["--scene", path, "--gain", "2"]).gain == 2.0  # the command line wins
    (tmp_path / "s.toml").write_text('speed = 2.0\nseed = 3\n')
    assert parse_args(["--scene", str(tmp_path / "s.toml")]).speed == 2.0
    for bad, fragment in [({"speed": 1000}, "speed"), ({"models": []}, "models"), ({"volume": 1}, "volume"),
                          ({"react": {"bass": 1}}, "react"), ({"loop": 1}, "loop")]:
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        assert_refused(capsys, main, ["--scene", tmp_path / "bad.json"], fragment)


def test_playlist_options_that_cannot_work_are_refused(capsys, onnx_model):
    from dvtex.player.cli import main

    assert_refused(capsys, main, [onnx_model, "--crossfade", "1"], "several models")
    assert_refused(capsys, main, [onnx_model, onnx_model, "--loop", "10"], "playlist")
    assert_refused(capsys, main, [onnx_model, onnx_model, "--switch-every", "0"], "--switch-every")
    assert_refused(capsys, main, [onnx_model, "--loop", "1"], "--loop")
