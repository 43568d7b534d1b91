import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dvtex.dynamics import (TimeScaler, needs_stabilizing, played_pair, sample_path, spectral_norm, spectral_radius,
                            stabilize, stationarity_residual)

n = 10
matrices = arrays(np.float64, (n, n), elements=st.floats(-1.5, 1.5, allow_nan=False, width=64))
speeds = st.floats(0.05, 8.0, allow_nan=False)


def test_dynamics_is_torch_free():
    import subprocess

    code = "import sys; sys.modules['torch'] = None; import dvtex.dynamics, dvtex"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@settings(max_examples=200, deadline=None)
@given(matrices)
def test_stabilize_gives_an_exactly_stationary_stable_pair(A):
    As, Bs = stabilize(A)
    assert stationarity_residual(As, Bs) < 1e-9
    assert spectral_norm(As) < 1
    assert np.allclose(Bs, Bs.T)


def test_a_stationary_pair_is_played_as_learnt_and_an_unstationary_one_stabilized():
    rotation = np.linalg.qr(np.random.default_rng(0).standard_normal((n, n)))[0]
    A, B = 0.9 * rotation, np.sqrt(1 - 0.81) * np.eye(n)  # exactly stationary, contracting
    assert not needs_stabilizing(A, B)
    assert all(np.array_equal(p, q) for p, q in zip(played_pair(A, B), (A, B)))
    grows = 1.0004 * rotation  # what a DVAE can learn: |lambda| just above 1, almost no noise
    assert needs_stabilizing(grows, np.zeros((n, n)))
    As, Bs = played_pair(grows, np.zeros((n, n)))
    assert spectral_norm(As) < 1 and stationarity_residual(As, Bs) < 1e-9
    raw = sample_path(grows, np.zeros((n, n)), np.ones(n), 10000, np.random.default_rng(1))
    played = sample_path(As, Bs, np.ones(n), 10000, np.random.default_rng(1))
    assert np.linalg.norm(raw[-1]) > 40 * np.linalg.norm(raw[0])  # the learnt pair drifts away
    assert np.abs(played[-1000:]).std() < 2  # the played one stays near N(0, I)


@settings(max_examples=100, deadline=None)
@given(matrices, speeds)
def test_time_scaling_keeps_stationarity_at_every_speed(A, s):
    As, _ = stabilize(A)
    A_s, B_s = TimeScaler(As)(s)
    assert stationarity_residual(A_s, B_s) < 1e-9
    assert spectral_norm(A_s) < 1
    assert np.isrealobj(A_s)


@settings(max_examples=50, deadline=None)
@given(matrices)
def test_speed_one_is_the_model_and_integer_speeds_are_powers(A):
    As, Bs = stabilize(A)
    scale = TimeScaler(As)
    A1, B1 = scale(1.0)
    assert np.allclose(A1, As, atol=1e-12) and stationarity_residual(A1, B1) < 1e-9
    lam = np.linalg.eigvals(As)
    V = np.linalg.eig(As)[1]
    if np.linalg.cond(V) < 1e6 and np.abs(lam).min() > 1e-3:
        assert np.allclose(scale(2.0)[0], As @ As, atol=1e-8)


def test_rotation_at_half_speed_turns_half_the_angle():
    theta = 2 * np.pi / 5
    R = np.eye(n)
    R[:2, :2] = [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
    A, _ = stabilize(0.9 * R)
    half = TimeScaler(A)(0.5)[0]
    assert np.allclose(half[:2, :2], np.sqrt(0.9) * np.array([[np.cos(theta / 2), -np.sin(theta / 2)],
                                                               [np.sin(theta / 2), np.cos(theta / 2)]]))


def test_negative_eigenvalue_fallback_is_real_and_stationary():
    A = np.diag([-0.8] + [0.5] * (n - 1))
    scale = TimeScaler(A)
    for s, want in ((0.5, 0.0), (2.0, 0.64), (3.0, -0.512), (1.25, 0.8**1.25 * np.cos(1.25 * np.pi))):
        A_s, B_s = scale(s)
        assert np.isrealobj(A_s) and np.isclose(A_s[0, 0], want) and stationarity_residual(A_s, B_s) < 1e-9


def test_long_path_has_identity_covariance():
    rng = np.random.default_rng(0)
    A, B = stabilize(rng.standard_normal((n, n)) * 0.4)
    h = sample_path(A, B, np.zeros(n), 60000, rng)[1000:]
    assert np.abs(np.cov(h.T) - np.eye(n)).max() < 0.08
    assert spectral_radius(A) < 1

