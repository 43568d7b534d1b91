"""Sequence synthesis with a trained Dynamic VAE (the paper's Eq. 9):

    h_0 given,  h_t+1 = A h_t + B v_t,  v_t ~ N(0, I),  y_t = C_eta(h_t)

with the (A, B) that dvtex plays: the learnt pair, stabilized as dvtex-export stabilizes it when it is
not exactly stationary, so synthesis, evaluation and the player show the same process.
"""

import numpy as np
import torch

from dvtex.train.checkpoint import build_model, load_checkpoint
from dvtex.dynamics import played_pair, sample_path


def played_path(model, h0, steps, seed):
    """States h_0..h_steps-1 from h0 of the model's process as dvtex plays it: (steps, n) float64."""
    A, B = played_pair(*(p.detach().cpu().double().numpy() for p in (model.A, model.B)))
    return sample_path(A, B, np.asarray(h0, np.float64), steps, np.random.default_rng(seed))


def to_uint8(y):
    """Decoder output (T, C, H, W) in [-1, 1] -> uint8 frames (T, H, W, C), as the player shows them."""
    return ((y + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def decode_frames(model, h, batch=256):
    """Latent states (T, n), numpy -> uint8 frames (T, H, W, C)."""
    device = next(model.parameters()).device
    out = []
    for chunk in torch.from_numpy(np.asarray(h)).split(batch):
        out.append(to_uint8(model.decoder(chunk.float().to(device))))
    return np.concatenate(out)


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
    if h0 is None:
        if h0_stored is not None and len(h0_stored):
            h0 = h0_stored[seed % len(h0_stored)].numpy()
        else:  # a draw from the stationary law N(0, I), from its own stream
            h0 = np.random.default_rng([seed, 1]).standard_normal(model.cfg.n)
    was_training = model.training
    model.eval()
    try:
        return decode_frames(model, played_path(model, h0, n_frames, seed))
    finally:
        model.train(was_training)
