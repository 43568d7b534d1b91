"""The baselines recover known linear systems, and train, export and play like a DVAE."""

import numpy as np
import pytest
import torch

from conftest import assert_user_error, run_module
from dvtex.train.baselines import LDS, fit_var, lyapunov
from dvtex.train.data import FramePairs, Sequence
from dvtex.dynamics import stationarity_residual
from dvtex.train.model import DVAEConfig


def known_system(n=4, seed=0):
    """A stable A with two rotations (eigenvalues 0.95 e^{+-i 0.3}, 0.8 e^{+-i 1.2})."""
    rot = lambda r, a: r * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])  # noqa: E731
    A = np.zeros((n, n))
    A[:2, :2], A[2:, 2:] = rot(0.95, 0.3), rot(0.8, 1.2)
    basis = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0]
    return basis @ A @ basis.T


def simulate_states(A, steps, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    x = np.zeros((steps, len(A)))
    for t in range(1, steps):
        x[t] = A @ x[t - 1] + noise * rng.standard_normal(len(A))
    return x


def eig_sorted(A):
    w = np.linalg.eigvals(A)
    return w[np.lexsort((w.imag, np.abs(w)))]


def test_lyapunov_solves_the_stationary_covariance():
    A, Q = known_system(), np.diag([1.0, 2.0, 0.5, 0.1])
    P = lyapunov(A, Q)
    assert np.allclose(P, A @ P @ A.T + Q)


def test_fit_var_recovers_a_known_system_in_stationary_coordinates():
    A = known_system()
    x = simulate_states(A, 20000) + 3.0  # a mean to remove
    A_h, B_h, T, m = fit_var(x[:-1], x[1:])
    assert np.allclose(eig_sorted(A_h), eig_sorted(A), atol=0.02)
    assert stationarity_residual(A_h, B_h) < 1e-8
    assert np.allclose(m, 3.0, atol=0.1)
    # the same process: x = m + T h maps A_h back to the least-squares A
    assert np.allclose(T @ A_h @ np.linalg.inv(T), A, atol=0.02)


def test_fit_var_pulls_an_unstable_fit_inside_the_unit_circle():
    x = np.cumsum(np.random.default_rng(0).standard_normal((500, 3)), axis=0)  # random walk: A ~ I
    A_h, B_h, _, _ = fit_var(x[:-1], x[1:])
    assert np.abs(np.linalg.eigvals(A_h)).max() <= 0.999 + 1e-9
    assert stationarity_residual(A_h, B_h) < 1e-8


def test_lds_recovers_the_dynamics_of_frames_made_by_a_linear_system():
    n, size = 10, 32
    A = np.zeros((n, n))
    A[:4, :4] = known_system()
    A[4:, 4:] = 0.5 * np.eye(n - 4)
    x = simulate_states(A, 3000, noise=1.0)
    C = np.linalg.qr(np.random.default_rng(1).standard_normal((size * size, n)))[0] * [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    frames = np.clip(128 + 3 * x @ C.T, 0, 255).round().astype(np.uint8).reshape(-1, size, size, 1)
    pairs = FramePairs([Sequence("linear", frames, 25.0, (size, size))])
    lds = LDS(DVAEConfig.from_preset("mnist32", n=n)).fit_closed_form(pairs)
    A_h, B_h = lds.A.double().numpy(), lds.B.double().numpy()
    assert stationarity_residual(A_h, B_h) < 1e-6
    assert np.allclose(eig_sorted(A_h)[-4:], eig_sorted(A)[-4:], atol=0.05)  # the slow rotations
    # decoding the states of real frames gives those frames back (up to clipping and rounding)
    y, _ = pairs.batch(torch.arange(8))
    back = lds.decoder(lds.states(y))
    assert (back - y[:, :1]).abs().max() < 0.05


@pytest.mark.parametrize("method", ["lds", "vae+var"])
def test_a_baseline_trains_exports_and_plays(tmp_path, method):
    ckpt, onnx = tmp_path / "b.pt", tmp_path / "b.onnx"
    proc = run_module("dvtex.train", "procedural:water:30", "--method", method, "--preset", "mnist32", "--width", "8",
                      "--batch", "8", "--steps", "4", "--preview-every", "0", "-o", ckpt)
    assert proc.returncode == 0, proc.stderr
    saved = torch.load(ckpt, weights_only=True)
    assert saved["method"] == method
    assert stationarity_residual(saved["model"]["A"].double().numpy(), saved["model"]["B"].double().numpy()) < 1e-5
    proc = run_module("dvtex.export", ckpt, "-o", onnx)
    assert proc.returncode == 0, proc.stderr
    assert "is stationary" in proc.stdout  # exported as fitted, no stabilization needed

    from dvtex.player.modelfile import INPUT, load_model
    from dvtex.player.stream import LatentStream

    session, info = load_model(str(onnx), "cpu")
    assert info.meta["method"] == method
    stream = LatentStream(info, seed=0)
    frames = [session.run(None, {INPUT: stream.step()})[0] for _ in range(5)]
    assert frames[0].shape == (1, 32, 32, 3) and frames[0].dtype == np.uint8
    if method == "lds":  # fitted in closed form to real water, so it moves (4 VAE steps decode a blank)
        assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).max() > 0


def test_lds_refuses_a_mask():
    proc = run_module("dvtex.train", "procedural:water:30", "--method", "lds", "--mask", "saltpepper:0.5", "-o", "never.pt")
    assert_user_error(proc, "--method lds")
