"""Import a model trained with the reference implementation (github alexandersagel/DynamicVAE).

Its `DVAE` state dict holds `A`, `B`, `decoder.dense.*`, `decoder.deconv_first.*` and
`decoder.deconv_list.{i}.*` (plus unused `decoder.bn_list.*` and the encoder). Its decoder
upsamples bilinearly by `ds` when its native output is smaller than the frames it was trained on.
The architecture is read off the weights' shapes; the preset gives the frame size and sigma_y2.
"""

import os
import pickle
import re
import zipfile

import torch

from dvtex.errors import UserError, first_line
from dvtex.train.model import PRESETS, Decoder, DVAEConfig


def load_reference_state(path):
    if not os.path.isfile(path):
        raise UserError(f"no such state dict: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError) as err:
        raise UserError(f"{path} is not a state dict torch can load safely ({first_line(err, 120)})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    needed = ("A", "B", "decoder.dense.weight", "decoder.deconv_first.weight")
    if not isinstance(state, dict) or any(k not in state for k in needed):
        raise UserError(f"{path} is not a reference DVAE state dict (needs {', '.join(needed)})")
    return state


def reference_config(state, preset):
    """DVAEConfig matching the reference decoder's weights, at the preset's frame size."""
    if preset not in PRESETS:
        raise UserError(f"--preset {preset}: choose from {', '.join(sorted(PRESETS))}")
    first = state["decoder.deconv_first.weight"]  # (100, d * 2^(L-2), k1, k1)
    layers = 1 + len({m.group(1) for k in state if (m := re.match(r"decoder\.deconv_list\.(\d+)\.weight$", k))})
    last = state[f"decoder.deconv_list.{layers - 2}.weight"]  # (in, C, 4, 4)
    kernel1, channels, n = first.shape[2], last.shape[1], state["A"].shape[0]
    width = first.shape[1] // 2 ** (layers - 2)
    native = kernel1 * 2 ** (layers - 1)
    size = PRESETS[preset]["size"]
    if size % native:
        raise UserError(f"the reference decoder makes {native}x{native} frames, which do not scale to "
                        f"{preset}'s {size}x{size}; choose the preset it was trained with")
    return DVAEConfig(size=size, channels=channels, layers=layers, kernel1=kernel1, width=width, n=n,
                      sigma_y2=PRESETS[preset]["sigma_y2"], ds=size // native, preset=preset)


def import_reference(path, preset):
    """(decoder, A, B, config) from a reference state dict."""
    state = load_reference_state(path)
    cfg = reference_config(state, preset)
    decoder = Decoder(cfg)
    own = {k[len("decoder."):]: v for k, v in state.items()
           if k.startswith("decoder.") and not k.startswith("decoder.bn_list.")}
    try:
        decoder.load_state_dict(own)
    except RuntimeError as err:
        raise UserError(f"{path}: decoder weights do not fit a {cfg.layers}-layer decoder "
                        f"({first_line(err, 120)})") from None
    return decoder.eval(), state["A"].double().numpy(), state["B"].double().numpy(), cfg
