"""Checkpoints: written atomically, read with `torch.load(weights_only=True)`, self-sufficient.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (no pickled classes), so
it loads without unpickling code, and `build_model` rebuilds the network from it alone, the way
nanoGPT rebuilds `GPT(GPTConfig(**checkpoint['model_args']))`.
"""

import os
import pickle
import zipfile

import torch

from dvtex.baselines import METHODS, model_class
from dvtex.errors import UserError, first_line
from dvtex.fileio import atomic_path
from dvtex.model import DVAEConfig

FORMAT = "dvtex-checkpoint/1"


def save_checkpoint(ckpt, path):
    """Write `ckpt` to `path` so that a crash at any instant leaves either the old file or the new one."""
    with atomic_path(path, ".pt") as tmp:
        with open(tmp, "wb") as f:
            torch.save(ckpt, f)
            f.flush()
            os.fsync(f.fileno())


def load_checkpoint(path, map_location="cpu"):
    """Read a dvtex checkpoint; a missing, corrupt or foreign file is a UserError."""
    if not os.path.isfile(path):
        raise UserError(f"no such checkpoint: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError) as err:
        raise UserError(f"{path} is not a readable dvtex checkpoint ({first_line(err, 120)})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UserError(f"{path} is not a dvtex checkpoint (no '{FORMAT}' tag)")
    if ckpt.get("method", "dvae") not in METHODS:
        raise UserError(f"{path} holds an unknown model kind {ckpt.get('method')!r}; a newer dvtex wrote it?")
    return ckpt


def build_model(ckpt, device="cpu"):
    """The trained model (a DVAE, or a baseline of dvtex.baselines) from a checkpoint dict, in eval mode."""
    model = model_class(ckpt.get("method", "dvae"))(DVAEConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()
