"""Import a model trained with the reference implementation (github alexandersagel/DynamicVAE).

Its `DVAE` state dict holds `A`, `B`, `decoder.dense.*`, `decoder.deconv_first.*` and
`decoder.deconv_list.{i}.*` (plus unused `decoder.bn_list.*` and the encoder). Its decoder
upsamples bilinearly by `ds` when its native output is smaller than the frames it was trained on.
The architecture is read off the weights' shapes; the preset gives the frame size and sigma_y2.
"""

import os
import re

import torch

from dvtex.errors import UserError, first_line
from dvtex.train.checkpoint import LOAD_ERRORS, safe_load, why_unreadable
from dvtex.train.model import PRESETS, Decoder, DVAEConfig


def load_reference_state(path):
    if not os.path.isfile(path):
        raise UserError(f"no such state dict: {path}")
    try:
        state = safe_load(path)
    except LOAD_ERRORS as err:
        raise UserError(f"{path} {why_unreadable(err, 'state dict')}; give a reference DVAE state dict") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    needed = ("A", "B", "decoder.dense.weight", "decoder.deconv_first.weight")
    if not isinstance(state, dict) or any(k not in state for k in needed):
        raise UserError(f"{path} is not a reference DVAE state dict (needs {', '.join(needed)})")
    return state


def check_reference_state(state, path):
    """The tensors the importer reads: of the ranks it reads them with, finite, A and B square."""
    for key, value in state.items():
        if key.startswith("decoder.") or key in ("A", "B"):
            if not isinstance(value, torch.Tensor) or not value.is_floating_point() or not torch.isfinite(value).all():
                raise UserError(f"{path}: '{key}' is not a tensor of finite numbers; is it a reference DVAE state dict?")
    n = state["A"].shape[0] if state["A"].ndim == 2 else -1
    if n < 1 or tuple(state["A"].shape) != (n, n) or tuple(state["B"].shape) != (n, n):
        raise UserError(f"{path}: A {tuple(state['A'].shape)} and B {tuple(state['B'].shape)} must be square and alike")
    for key in ("decoder.deconv_first.weight", *(k for k in state if re.match(r"decoder\.deconv_list\.\d+\.weight$", k))):
        if state[key].ndim != 4:
            raise UserError(f"{path}: '{key}' has shape {tuple(state[key].shape)}; a transposed convolution's is 4-D")
    layers = 1 + len([k for k in state if re.match(r"decoder\.deconv_list\.\d+\.weight$", k)])
    if layers < 2 or f"decoder.deconv_list.{layers - 2}.weight" not in state:
        raise UserError(f"{path}: the decoder's deconv_list layers are missing or not numbered 0, 1, ...")


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
    if width < 1 or size % native:
        raise UserError(f"the reference decoder makes {native}x{native} frames, which do not scale to "
                        f"{preset}'s {size}x{size}; choose the preset it was trained with")
    if channels not in (1, 3):
        raise UserError(f"the reference decoder makes {channels}-channel frames; dvtex plays grey (1) or RGB (3)")
    try:
        return DVAEConfig(size=size, channels=channels, layers=layers, kernel1=kernel1, width=width, n=n,
                          sigma_y2=PRESETS[preset]["sigma_y2"], ds=size // native, preset=preset)
    except ValueError as err:
        raise UserError(f"the reference decoder's shapes fit no dvtex decoder ({err})") from None


def import_reference(path, preset):
    """(decoder, A, B, config) from a reference state dict."""
    state = load_reference_state(path)
    check_reference_state(state, path)
    cfg = reference_config(state, preset)
    decoder = Decoder(cfg)
    own = {k[len("decoder."):]: v for k, v in state.items()
           if k.startswith("decoder.") and not k.startswith("decoder.bn_list.")}
    try:
        decoder.load_state_dict(own)
    except (RuntimeError, ValueError) as err:
        raise UserError(f"{path}: decoder weights do not fit a {cfg.layers}-layer decoder "
                        f"({first_line(err, 120)})") from None
    return decoder.eval(), state["A"].double().numpy(), state["B"].double().numpy(), cfg
