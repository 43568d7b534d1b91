"""The latent process h_t+1 = A h_t + B v_t, v_t ~ N(0, I), in numpy: shared by export and player.

N(0, I) is the stationary law of the recursion exactly when A A^T + B B^T = I and A is stable; the
Dynamic VAE's penalty lam ||A A^T + B B^T - I||_F^2 only approximates that, so `stabilize` makes
it exact before a model is played forever, and `TimeScaler` keeps it exact at any playback speed.
No torch here: the player imports this module.
"""

import numpy as np

MARGIN = 1e-3  # singular values of a played A are at most 1 - MARGIN: every mode forgets, however slowly
STATIONARY_TOL = 1e-3  # a learnt (A, B) further than this from stationary is stabilized before it is played


def sample_path(A, B, h0, steps, rng):
    """States h_0 .. h_steps-1 from h0: (steps, n)."""
    n = A.shape[0]
    h = np.empty((steps, n))
    h[0] = h0
    v = rng.standard_normal((steps - 1, n))
    for t in range(steps - 1):
        h[t + 1] = A @ h[t] + B @ v[t]
    return h


def stationarity_residual(A, B):
    """||A A^T + B B^T - I||_F: zero when N(0, I) is the recursion's stationary law."""
    return float(np.linalg.norm(A @ A.T + B @ B.T - np.eye(A.shape[0])))


def spectral_radius(A):
    return float(np.abs(np.linalg.eigvals(A)).max())


def spectral_norm(A):
    return float(np.linalg.norm(A, 2))


def psd_sqrt(Q):
    """Symmetric square root of a symmetric positive semi-definite Q: B = B^T with B B^T = Q."""
    w, V = np.linalg.eigh((Q + Q.T) / 2)
    return (V * np.sqrt(np.clip(w, 0, None))) @ V.T


def clip_singular_values(A, margin=MARGIN):
    U, S, Vt = np.linalg.svd(A)
    return (U * np.minimum(S, 1 - margin)) @ Vt


def stabilize(A, B=None, margin=MARGIN):
    """A stationary pair for a learnt (A, B): A's singular values clipped to 1 - margin, then
    B = (I - A A^T)^(1/2), so A A^T + B B^T = I to machine precision. Only B B^T matters for the
    process (v is isotropic), so the learnt B is replaced by the symmetric root of what it must be."""
    A = clip_singular_values(np.asarray(A, np.float64), margin)
    return A, psd_sqrt(np.eye(A.shape[0]) - A @ A.T)


def needs_stabilizing(A, B, tol=STATIONARY_TOL):
    """Whether a learnt pair must be stabilized to be played forever: not stationary within `tol`, or
    an A that does not contract every direction."""
    return stationarity_residual(A, B) > tol or spectral_norm(A) >= 1


def played_pair(A, B):
    """The (A, B) that dvtex plays for a learnt pair (dvtex-export, dvtex.synthesize, dvtex-eval): the pair
    itself when it is stationary and contracting, else `stabilize(A, B)`."""
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    return stabilize(A, B) if needs_stabilizing(A, B) else (A, B)


def _eig_well_conditioned(A):
    """Eigendecomposition with invertible eigenvectors. A defective A (a repeated eigenvalue short of
    eigenvectors: a nilpotent block, say; never seen in a learnt model) is nudged by a fixed tiny
    perturbation first, which moves A_s by about that much."""
    rng = np.random.default_rng(0)
    nudge = rng.standard_normal(A.shape)
    for eps in (0.0, 1e-9, 1e-7, 1e-5):
        lam, V = np.linalg.eig(A + eps * nudge)
        if np.linalg.cond(V) < 1e8:
            return lam, V
    return lam, V


class TimeScaler:
    """(A_s, B_s) for a playback speed s > 0: s steps of the process per frame.

    A_s = A^s through A's eigendecomposition, real and exact where a real power exists (complex
    eigenvalues come in conjugate pairs, positive ones are fine, integer s always works). A negative
    real eigenvalue l has no real power at fractional s; the documented fallback takes the real part
    of l^s, |l|^s cos(pi s): continuous in s, exact at whole speeds, and a mode that flips sign every
    step fades out at half speed instead of becoming complex. Singular values of A_s are
    clipped to 1 - margin and B_s = (I - A_s A_s^T)^(1/2), so every speed is exactly stationary and
    A_1 = A for a stabilized A. The decomposition is done once; a new speed costs a 10x10 product,
    an SVD and an eigh (tens of microseconds)."""

    def __init__(self, A, margin=MARGIN):
        self.A = np.asarray(A, np.float64)
        self.margin = margin
        self.lam, self.V = _eig_well_conditioned(self.A)
        self.V_inv = np.linalg.inv(self.V)
        self.negative = (np.abs(self.lam.imag) < 1e-12) & (self.lam.real < 0)
        self._cache = None

    def __call__(self, s):
        s = float(s)
        if s <= 0:
            raise ValueError(f"speed must be positive, got {s}")
        if self._cache is not None and self._cache[0] == s:
            return self._cache[1]
        if s == 1.0:
            A_s = self.A
        else:
            lam_s = np.where(self.negative, np.abs(self.lam) ** s * np.cos(np.pi * s), self.lam.astype(complex) ** s)
            A_s = ((self.V * lam_s) @ self.V_inv).real
        A_s = clip_singular_values(A_s, self.margin)
        pair = (A_s, psd_sqrt(np.eye(len(A_s)) - A_s @ A_s.T))
        self._cache = (s, pair)
        return pair
