"""The paper's baselines, in the same form as a Dynamic VAE: a stationary process h <- A h + B v with
A A^T + B B^T = I and a decoder from h to frames, so checkpoints, synthesis, export and the player
treat all three alike (`dvtex-train --method lds|vae+var`).

- LDS (Doretto et al., "Dynamic Textures", IJCV 2003): PCA gives the observation matrix C and the
  states; A is the least-squares fit of x_t+1 on x_t, made stable; B is the root of the residual
  covariance. The decoder is linear: y = mean + C x.
- VAE + VAR (the paper's ablation): a VAE with the DVAE's encoder and decoder learns single frames;
  a VAR(1) is fitted afterwards, by least squares, to the encoder means of successive frames.

A fitted (A, Q) is put in stationary coordinates: with P the stationary covariance (P = A P A^T + Q)
and T = P^1/2, the state h = T^-1 (x - m) has A_h = T^-1 A T, B_h = T^-1 Q^1/2, and T and m move
into the decoder. The process is the same; its stationary law is N(0, I), as the player expects.
"""

from dataclasses import replace

import numpy as np
import torch
import torch.nn as nn

from dvtex.dynamics import psd_sqrt, spectral_radius
from dvtex.train.model import DVAE, Decoder, Encoder, TextureModel, _dcgan_init
from dvtex.train.objective import prior_term, process_batch, reconstruction_loss, statistics_terms

MAX_RADIUS = 0.999  # a least-squares A at or beyond the unit circle is scaled back to this


def lyapunov(A, Q):
    """The stationary covariance P = A P A^T + Q of a stable A, by the Kronecker-product solve."""
    n = A.shape[0]
    vec = np.linalg.solve(np.eye(n * n) - np.kron(A, A), Q.reshape(-1))
    P = vec.reshape(n, n)
    return (P + P.T) / 2


def fit_var(x_now, x_next):
    """VAR(1) x_t+1 = m + A (x_t - m) + w by least squares on transition pairs (k, n) each, in
    stationary coordinates. Returns A_h, B_h, T, m with x = m + T h."""
    m = np.concatenate([x_now, x_next]).mean(0)
    X, Y = x_now - m, x_next - m
    A = np.linalg.lstsq(X, Y, rcond=None)[0].T  # Y^T = A X^T
    rho = spectral_radius(A)
    if rho > MAX_RADIUS:
        A = A * (MAX_RADIUS / rho)
    W = Y - X @ A.T
    n = A.shape[0]
    Q = W.T @ W / max(len(W) - 1, 1)
    Q += 1e-6 * max(np.trace(Q) / n, 1e-12) * np.eye(n)  # full rank, so T is invertible
    T = psd_sqrt(lyapunov(A, Q))
    T_inv = np.linalg.inv(T)
    return T_inv @ A @ T, T_inv @ psd_sqrt(Q), T, m


class _Process(TextureModel):
    """A, B as fixed (not trained) parameters, where a DVAE has its learnt ones."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.A = nn.Parameter(torch.zeros(cfg.n, cfg.n), requires_grad=False)
        self.B = nn.Parameter(torch.eye(cfg.n), requires_grad=False)

    def set_process(self, A, B):
        self.A.data.copy_(torch.from_numpy(A))
        self.B.data.copy_(torch.from_numpy(B))


class LinearDecoder(nn.Module):
    """y = mean + C T h, clipped to [-1, 1]: h (B, n) -> (B, C, H, W)."""

    def __init__(self, cfg):
        super().__init__()
        self.channels, self.shape = cfg.channels, cfg.frame_shape
        self.dense = nn.Linear(cfg.n, cfg.channels * self.shape[0] * self.shape[1])

    def forward(self, h):
        y = self.dense(h).reshape(-1, self.channels, *self.shape)
        return torch.clamp(y, -1.0, 1.0)


class LDS(_Process):
    """The linear dynamic texture, fitted in closed form (no training steps)."""

    method = "lds"
    learns_from_masks = False
    learns_by_steps = False
    ignores = ("sigma_y2", "recipe", "texture", "motion", "prior", "regions", "regions_from", "levels", "motion_levels",
               "statistics_from", "decoder", "batch", "lr", "lr_dynamics", "cosine", "kl_warmup")

    def __init__(self, cfg):
        super().__init__(cfg)
        self.decoder = LinearDecoder(cfg)

    def fit(self, training):
        self.fit_closed_form(training.pairs)

    @torch.no_grad()
    def fit_closed_form(self, pairs):
        frames = pairs.frames.double().flatten(1) / 127.5 - 1  # (N, D)
        mean = frames.mean(0)
        # PCA by the thin SVD of the centred data: the first n right singular vectors are C's columns.
        _, S, Vt = torch.linalg.svd(frames - mean, full_matrices=False)
        C = Vt[: self.cfg.n].T  # (D, n)
        x = ((frames - mean) @ C).numpy()  # (N, n)
        first = pairs.first.cpu().numpy()
        A, B, T, m = fit_var(x[first], x[first + 1])
        self.set_process(A, B)
        self.decoder.dense.weight.copy_(C @ torch.from_numpy(T))
        self.decoder.dense.bias.copy_(mean + C @ torch.from_numpy(m))
        return self

    @torch.no_grad()
    def states(self, y, mask=None):
        """Least-squares states of the pairs' first frames: (B, n)."""
        W, b = self.decoder.dense.weight.double(), self.decoder.dense.bias.double()
        first = y[:, : self.cfg.channels].double().flatten(1)
        return torch.linalg.lstsq(W, (first - b).T).solution.T.float()


class StateMap(nn.Module):
    """C_eta(m + T h): a decoder trained on VAE latents x, driven by the stationary VAR state h."""

    def __init__(self, c_eta, n):
        super().__init__()
        self.c_eta, self.channels = c_eta, c_eta.channels
        self.state_map = nn.Linear(n, n)
        nn.init.eye_(self.state_map.weight)
        nn.init.zeros_(self.state_map.bias)
        self.state_map.requires_grad_(False)

    def forward(self, h):
        return self.c_eta(self.state_map(h))


class VAEVAR(_Process):
    """A VAE on single frames (the DVAE's encoder on one frame, 2n outputs, and its decoder C_eta),
    with a VAR(1) fitted afterwards to the encoder means of successive frames: two stages, the
    VAE by gradient steps (`fit`), the VAR before every checkpoint (`complete`), so that every
    checkpoint, an interrupted run's included, plays."""

    method = "vae+var"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.encoder = Encoder(cfg, frames=1)
        self.encoder.apply(_dcgan_init)
        c_eta = Decoder(cfg)
        c_eta.apply(_dcgan_init)
        self.decoder = StateMap(c_eta, cfg.n)
        self.track_variance(cfg)

    def encode_frames(self, y, mask=None):  # (B, C, H, W)[, (B, 1, H, W)] -> mean, log-variance (B, n)
        if self.cfg.masked:
            mask = torch.ones_like(y[:, :1]) if mask is None else mask
            y = torch.cat([y * mask, mask], dim=1)
        return self.encoder(y).chunk(2, dim=1)

    def forward(self, y, mask=None, samples=1, kl_weight=1.0, statistics=True):
        """The VAE's loss on both frames of each pair (B, 2C, H, W), per pair as DVAE reports it; the
        texture term only where `statistics` (and the config weighs it)."""
        c = self.cfg.channels
        frames = torch.cat([y[:, :c], y[:, c:]])  # (2B, C, H, W)
        masks = None if mask is None else torch.cat([mask[:, :1], mask[:, 1:]])
        mu, logvar = self.encode_frames(frames, masks)
        mu_s, logvar_s = mu.repeat(samples, 1), logvar.repeat(samples, 1)
        x = mu_s + torch.randn_like(mu_s) * torch.exp(0.5 * logvar_s)
        cfg = self.cfg
        # the same texture term as the DVAE's, on frames decoded from the VAE's prior N(0, I); no motion
        # term: its dynamics are fitted afterwards, so no process exists while it trains
        k = process_batch(len(y)) if statistics and cfg.texture and mask is None else 0
        if k:
            x = torch.cat([x, torch.randn(2 * k, cfg.n, device=x.device)])
        decoded = self.decoder.c_eta(x).float()
        recon = decoded[: len(decoded) - 2 * k]
        seen = None if masks is None else masks.repeat(samples, 1, 1, 1)
        rec, var = reconstruction_loss(recon, frames.repeat(samples, 1, 1, 1), seen, cfg)
        rec = 2 * rec  # per pair, as the DVAE reports it
        self.note_variance(var)
        texture = rec.new_zeros(())
        if k:
            fake = torch.cat([decoded[-2 * k:-k], decoded[-k:]], dim=1)  # (k, 2C, H, W), frames unrelated in time
            texture = statistics_terms(fake, y[:k], c, var, 2.0 * recon[0].numel(), replace(cfg, motion=0.0))[0]
        mu, logvar = mu.float(), logvar.float()
        kl = (mu**2 + logvar.exp() - logvar - 1).sum(dim=1).mean()  # 2 frames x 0.5
        zero = rec.new_zeros(())
        prior = prior_term(x[: len(x) - 2 * k], var, cfg)  # the encoded states, not the prior's draws
        return {"loss": rec + kl_weight * kl + texture + prior, "rec": rec, "kl": kl, "stat": zero, "texture": texture}

    @torch.no_grad()
    def complete(self, pairs, batch=256):
        """Fit the VAR(1) to the encoder means of all frames (eval mode)."""
        was_training = self.training
        self.eval()
        x = []
        for idx in torch.arange(len(pairs.frames)).split(batch):
            y = pairs.frames[idx].float() / 127.5 - 1
            mask = None if pairs.masks is None else pairs.masks[idx].float()
            x.append(self.encode_frames(y, mask)[0].double().cpu())
        x = torch.cat(x).numpy()
        first = pairs.first.cpu().numpy()
        A, B, T, m = fit_var(x[first], x[first + 1])
        self.set_process(A, B)
        self.decoder.state_map.weight.copy_(torch.from_numpy(T))
        self.decoder.state_map.bias.copy_(torch.from_numpy(m))
        self.train(was_training)
        return self

    @torch.no_grad()
    def states(self, y, mask=None):
        """Stationary states of the pairs' first frames: T^-1 (encoder mean - m), (B, n)."""
        mu, _ = self.encode_frames(y[:, : self.cfg.channels], None if mask is None else mask[:, :1])
        W, b = self.decoder.state_map.weight.double(), self.decoder.state_map.bias.double()
        return torch.linalg.solve(W, (mu.double() - b).T).T.float()


MODELS = {cls.method: cls for cls in (DVAE, VAEVAR, LDS)}  # the registry: a method is a model class
METHODS = tuple(MODELS)


def model_class(method):
    return MODELS[method]

