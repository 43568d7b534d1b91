"""What a run shows of itself while it trains: the initial states stored with a model, and the
preview PNG (training frames above frames the model synthesises from a training pair's state)."""

import numpy as np
import torch
from PIL import Image

from dvtex.fileio import atomic_path
from dvtex.train.synthesis import decode_frames, played_path

H0_COUNT = 16  # initial states stored with the model: encoder means of pairs spread over the data


@torch.no_grad()
def initial_states(model, pairs):
    """Latent states of pairs spread over the data (a DVAE's encoder means), (k, n)."""
    was_training = model.training
    model.eval()
    y, mask = pairs.batch(pairs.spread(H0_COUNT))
    h = model.states(y, mask)
    model.train(was_training)
    return h.float().cpu()


@torch.no_grad()
def write_preview(model, pairs, path, frames=8, seed=0):
    """Training frames (top) beside frames synthesised from the first pair's encoder mean (bottom)."""
    was_training = model.training
    model.eval()
    first = int(pairs.first[0])
    real = pairs.frames[first:first + frames].permute(0, 2, 3, 1).cpu().numpy()
    h0 = initial_states(model, pairs)[0]
    synth = decode_frames(model, played_path(model, h0.numpy(), frames, seed))
    model.train(was_training)
    row = lambda f: np.concatenate(list(f), axis=1)  # noqa: E731
    grid = np.concatenate([row(real), row(synth[: len(real)])], axis=0)
    img = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
    scale = max(1, 96 // pairs.frames.shape[-1])
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    with atomic_path(path, ".png") as tmp:
        img.save(tmp)
