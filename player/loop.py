"""Perfect loops of the latent process h <- A h + B v (A A^T + B B^T = I): N states whose end flows
into their start with the process's own statistics, computed once in numpy.

The loop is the process on a circle: the Gaussian chain whose density is the product of the N
transition densities p(h_t+1 | h_t) with h_N = h_0. That density is the same under every rotation of
the indices, so the seam (h_N-1 -> h_0) is a transition like every other, and every state has one
marginal covariance C_N, where C_N^-1 = (I - A^N)^T (I - A^N A^N^T)^-1 (I - A^N). It is drawn exactly:
h_0 ~ N(0, C_N), then h_1 .. h_N-1 given h_0 and h_N = h_0 (a Gaussian bridge, by conditioning a
free path: Matheron's rule). Last, every state is mapped by C_N^-1/2, so each one's covariance is
I, the player's stationary law, at every step and across the seam. C_N tends to I once N is long
against the process's slowest mode; for a short loop of a slow texture, C_N^-1/2 shrinks the slow
modes back to their trained spread.
"""

import numpy as np

from dvtex.dynamics import psd_sqrt


def powers(A, count):
    """A^0 .. A^count, (count + 1, n, n)."""
    out = np.empty((count + 1, *A.shape))
    out[0] = np.eye(len(A))
    for k in range(count):
        out[k + 1] = A @ out[k]
    return out


def cycle_covariance(A, N):
    """C_N: the covariance of every state of the process on a circle of N steps."""
    n = len(A)
    AN = np.linalg.matrix_power(A, N)
    S = np.eye(n) - AN @ AN.T  # the N-step innovation covariance
    D = np.eye(n) - AN
    precision = D.T @ np.linalg.solve(S, D)
    C = np.linalg.inv((precision + precision.T) / 2)
    return (C + C.T) / 2


def bridge(A, B, h0, N, rng):
    """States h_0 .. h_N-1 of the chain from h0 conditioned on h_N = h0: (N, n)."""
    n = len(A)
    P = powers(A, N)
    free = np.empty((N + 1, n))
    free[0] = h0
    v = rng.standard_normal((N, n))
    for t in range(N):
        free[t + 1] = A @ free[t] + B @ v[t]
    # Cov(x_t, x_N | x_0) = Sigma_t (A^(N-t))^T with Sigma_t = I - A^t A^t^T (stationary, A A^T + B B^T = I)
    S_N = np.eye(n) - P[N] @ P[N].T
    gain = np.linalg.solve(S_N, h0 - free[N])  # S_N^-1 (h_N - x_N), the same for every t
    path = np.empty((N, n))
    for t in range(N):
        sigma_t = np.eye(n) - P[t] @ P[t].T
        path[t] = free[t] + sigma_t @ P[N - t].T @ gain
    return path


def perfect_loop(A, B, N, rng):
    """N latent states, each N(0, I), whose cyclic succession (the seam included) is the process's:
    (N, n) float64. Needs N >= 2 and a stable A (every played A is)."""
    if N < 2:
        raise ValueError("a loop needs at least 2 frames")
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    C = cycle_covariance(A, N)
    root = psd_sqrt(C)
    h0 = root @ rng.standard_normal(len(A))
    path = bridge(A, B, h0, N, rng)
    return np.linalg.solve(root, path.T).T  # C_N^-1/2 h_t: covariance I at every step
