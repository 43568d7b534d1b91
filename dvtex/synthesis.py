"""Sequence synthesis with a trained Dynamic VAE (the paper's Eq. 9):

    h_0 given,  h_t+1 = A h_t + B v_t,  v_t ~ N(0, I),  y_t = C_eta(h_t)
"""

import numpy as np
import torch

from dvtex.checkpoint import build_model, load_checkpoint


def sample_path(A, B, h0, steps, generator):
    """Latent states h_0..h_steps-1 of the VAR recursion: (steps, n), float64 on the CPU."""
    A, B = A.detach().cpu().double(), B.detach().cpu().double()
    v = torch.randn(steps, A.shape[0], generator=generator, dtype=torch.float64)
    h = torch.empty(steps, A.shape[0], dtype=torch.float64)
    h[0] = torch.as_tensor(h0, dtype=torch.float64)
    for t in range(steps - 1):
        h[t + 1] = A @ h[t] + B @ v[t]
    return h


@torch.no_grad()
def decode_frames(model, h, batch=256):
    """Latent states (T, n) -> uint8 frames (T, H, W, C)."""
    device = next(model.parameters()).device
    out = []
    for chunk in h.split(batch):
        y = model.decoder(chunk.float().to(device))  # (b, C, H, W) in [-1, 1]
        out.append(((y + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu())
    return torch.cat(out).numpy()


def synthesize(model_or_checkpoint, n_frames, seed=0, h0=None):
    """Synthesise `n_frames` frames, uint8 (T, H, W, C).

    `model_or_checkpoint` is a DVAE, a checkpoint dict or a checkpoint path. h0 defaults to one of the
    checkpoint's stored initial states (encoder means of training pairs), else a stationary N(0, I) draw.
    """
    h0_stored = None
    if isinstance(model_or_checkpoint, torch.nn.Module):
        model = model_or_checkpoint
    else:
        ckpt = model_or_checkpoint
        if not isinstance(ckpt, dict):
            ckpt = load_checkpoint(ckpt)
        model, h0_stored = build_model(ckpt), ckpt.get("h0")
    gen = torch.Generator().manual_seed(seed)
    if h0 is None:
        if h0_stored is not None and len(h0_stored):
            h0 = h0_stored[seed % len(h0_stored)]
        else:
            h0 = torch.randn(model.cfg.n, generator=gen, dtype=torch.float64)
    was_training = model.training
    model.eval()
    try:
        return decode_frames(model, sample_path(model.A, model.B, np.asarray(h0), n_frames, gen))
    finally:
        model.train(was_training)
