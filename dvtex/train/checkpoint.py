"""Checkpoints: written atomically, read with `torch.load(weights_only=True)`, checked, self-sufficient.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (no pickled classes), so
it loads without unpickling code, and `build_model` rebuilds the network from it alone, the way
nanoGPT rebuilds `GPT(GPTConfig(**checkpoint['model_args']))`. It stores its TrainConfig whole
(`train_config`), so `--resume` and `dvtex-eval --reuse` need nothing else. Format 1 (before
TrainConfig) is upgraded on load. Every field a file provides is checked here, in one place.
"""

import dataclasses
import math
import os
import pickle
import re
import warnings
import zipfile

import torch

from dvtex.errors import UserError, first_line
from dvtex.fileio import atomic_path
from dvtex.train.baselines import METHODS, model_class
from dvtex.train.config import TrainConfig
from dvtex.train.detail import DetailConfig, DetailStage
from dvtex.train.model import DVAEConfig
from dvtex.train.objective import OCTAVES

FORMAT = "dvtex-checkpoint/2"
FORMAT_1 = "dvtex-checkpoint/1"
CONFIG_RANGES = {"size": (1, 16384), "channels": (1, 3), "layers": (2, 10), "kernel1": (1, 64), "width": (1, 4096),
                 "n": (1, 1024), "sigma_y2": (1e-12, 1e12), "lam": (0, 1e12), "ds": (1, 64), "texture": (0, 1e6),
                 "motion": (0, 1e6), "prior": (0, 1e6), "kernel1_w": (0, 256), "encoder_width": (0, 4096),
                 "regions": (1, 1024), "regions_from": (0, OCTAVES), "levels": (1, OCTAVES + 1),
                 "motion_levels": (1, OCTAVES + 1)}
# Fields added to format 2 since it was first written, with the values that reproduce how its older
# checkpoints were trained (the paper's objective).
ADDED = {"config": {"likelihood": "fixed", "texture": 0.0, "motion": 0.0, "prior": 0.0, "kernel1_w": 0,
                    "encoder_width": 0, "decoder": "dcgan", "regions": 1, "regions_from": 0, "levels": OCTAVES + 1,
                    "motion_levels": OCTAVES + 1},
         "train_config": {"recipe": "paper", "texture": None, "motion": None, "prior": None, "aspect": None,
                          "encoder_width": None, "decoder": "dcgan", "regions": 1, "regions_from": 0,
                          "levels": OCTAVES + 1, "motion_levels": OCTAVES + 1, "statistics_from": 0}}
# The same for detail stages written before these options (before --bands, every octave was compared).
DETAIL_ADDED = {"config": {"upsample": "shuffle", "noise": 0, "n": 10}, "train_config": {"bands": "all"}}
REQUIRED = {"config": dict, "model": dict, "step": int, "data": list, "fps": (int, float), "h0": torch.Tensor}


def save_checkpoint(ckpt, path):
    """Write `ckpt` to `path` so that a crash at any instant leaves either the old file or the new one."""
    with atomic_path(path, ".pt") as tmp:
        with open(tmp, "wb") as f:
            torch.save(ckpt, f)
            f.flush()
            os.fsync(f.fileno())


def load_checkpoint(path, map_location="cpu"):
    """Read and check a dvtex checkpoint; a missing, corrupt, foreign or inconsistent file is a UserError."""
    if os.path.isdir(path):
        raise UserError(f"{path} is a folder, not a checkpoint; name the .pt file")
    if not os.path.isfile(path):
        raise UserError(f"no such checkpoint: {path}")
    try:
        ckpt = safe_load(path, map_location)
    except LOAD_ERRORS as err:
        raise UserError(f"{path} {why_unreadable(err, 'dvtex checkpoint')}; give a checkpoint written by dvtex-train") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") not in (FORMAT, FORMAT_1):
        raise UserError(f"{path} is not a dvtex checkpoint (no '{FORMAT}' tag)")
    if ckpt["format"] == FORMAT_1:
        ckpt = upgrade(ckpt, path)
    with_added(ckpt, ADDED)
    trained = ckpt.get("train_config")
    if isinstance(trained, dict) and trained.get("encoder_width") is None:
        trained["encoder_width"] = trained.get("width")  # written before it was decided: as wide as the decoder
    if isinstance(ckpt.get("detail"), dict):
        with_added(ckpt["detail"], DETAIL_ADDED)
    check_checkpoint(ckpt, path)
    return ckpt


def with_added(part, added):
    """Fill in, in place, the fields of `part`'s sub-dicts that were added after it was written."""
    for key, fields in added.items():
        if isinstance(part.get(key), dict):
            part[key] = {**fields, **part[key]}


LOAD_ERRORS = (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, OSError)


def safe_load(path, map_location="cpu"):
    """torch.load with weights_only=True (tensors, numbers, strings, containers: never code), quietly:
    torch's warnings about a foreign pickle would break the one-line refusal that follows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path, map_location=map_location, weights_only=True)


def why_unreadable(err, what):
    """Why torch.load(weights_only=True) refused a file, in a few words: pickled code it will not
    run (named), or not a `what` at all."""
    code = re.search(r"unsupported global:? (?:GLOBAL )?([\w.]+)", str(err), re.IGNORECASE)
    if code:
        return f"holds pickled code ({code.group(1)}) that dvtex never runs"
    if "Weights only load failed" in str(err):
        return f"is not a readable {what}"
    return f"is not a readable {what} ({first_line(err, 80)})"


def upgrade(ckpt, path):
    """A format-1 checkpoint (its recipe in `train_args`) in format 2 (a whole TrainConfig)."""
    args = ckpt.get("train_args")
    if not isinstance(args, dict) or not isinstance(ckpt.get("config"), dict) or not isinstance(ckpt.get("data"), list):
        raise UserError(f"{path}: a format-1 checkpoint without train_args, config or data; train it again")
    cfg = ckpt["config"]
    try:
        recipe = TrainConfig(sources=[d["source"] for d in ckpt["data"]], output=path, preset=cfg["preset"],
                             width=cfg["width"], sigma_y2=cfg["sigma_y2"], grey=False,
                             steps=int(ckpt["step"]) or None, **{k: v for k, v in args.items() if k != "cosine"})
    except (KeyError, TypeError) as err:
        raise UserError(f"{path}: a format-1 checkpoint with an unreadable recipe ({first_line(err, 60)})") from None
    cosine = args.get("cosine")
    recipe.cosine = None if cosine is None else 0
    return {**{k: v for k, v in ckpt.items() if k != "train_args"}, "format": FORMAT,
            "train_config": recipe.to_dict(), "cosine_steps": cosine or None}


def check_checkpoint(ckpt, path):
    """Every field build_model, --resume and dvtex-export read: present, of its type, finite."""
    for key, kind in {**REQUIRED, "train_config": dict}.items():
        if not isinstance(ckpt.get(key), kind) or isinstance(ckpt.get(key), bool):
            raise UserError(f"{path}: field '{key}' is missing or not a {_name(kind)}; train it again")
    method = ckpt.get("method", "dvae")
    if method not in METHODS:
        raise UserError(f"{path} holds an unknown model kind {method!r}; a newer dvtex wrote it?")
    for key, kind in (("config", DVAEConfig), ("train_config", TrainConfig)):
        check_fields(kind, ckpt[key], f"{path}: '{key}'")
    for name, (low, high) in CONFIG_RANGES.items():
        value = ckpt["config"][name]
        if not low <= value <= high:  # nan fails too
            raise UserError(f"{path}: 'config' field '{name}' is {value}, outside [{low}, {high}]; train it again")
    try:
        cfg = DVAEConfig(**ckpt["config"])
        TrainConfig.from_dict(ckpt["train_config"]).validate()
    except (TypeError, ValueError, UserError) as err:
        raise UserError(f"{path}: its config is not one dvtex can build ({first_line(err, 80)})") from None
    shapes = {k: tuple(v.shape) for k, v in model_class(method)(cfg).state_dict().items()}
    stored = ckpt["model"]
    if set(stored) != set(shapes):
        odd = sorted(set(stored) ^ set(shapes))[:3]
        raise UserError(f"{path}: weights {', '.join(odd)} missing or unexpected for its config; train it again")
    for key, shape in shapes.items():
        value = stored[key]
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            raise UserError(f"{path}: weight '{key}' is not a tensor of shape {shape}; train it again")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise UserError(f"{path}: weight '{key}' holds nan or inf (training diverged); train it again, "
                            "e.g. with a lower --lr")
    h0 = ckpt["h0"]
    if h0.ndim != 2 or h0.shape[1] != cfg.n or not torch.isfinite(h0).all():
        raise UserError(f"{path}: initial states h0 {tuple(h0.shape)} are not finite (k, {cfg.n}); train it again")
    if ckpt["step"] < 0 or not (math.isfinite(ckpt["fps"]) and ckpt["fps"] > 0):
        raise UserError(f"{path}: step {ckpt['step']} or fps {ckpt['fps']} out of range; train it again")
    if ckpt.get("detail") is not None:
        check_detail(ckpt["detail"], cfg, path)


def check_detail(detail, cfg, path):
    """A detail stage (dvtex-train --detail): its config fits the DVAE's, its weights its config."""
    again = "train the stage again with dvtex-train --detail"
    if not isinstance(detail, dict) or not isinstance(detail.get("config"), dict) or not isinstance(detail.get("model"), dict):
        raise UserError(f"{path}: its detail stage has no config or weights; {again}")
    check_fields(DetailConfig, detail["config"], f"{path}: the detail stage's 'config'")
    try:
        stage_cfg = DetailConfig(**detail["config"])
    except (TypeError, ValueError) as err:
        raise UserError(f"{path}: its detail stage's config is not one dvtex can build ({first_line(err, 80)}); {again}") from None
    if (*stage_cfg.native_shape, stage_cfg.channels) != (*cfg.frame_shape, cfg.channels) or stage_cfg.width > 4096 \
            or stage_cfg.blocks > 64 or stage_cfg.n != cfg.n:
        (h, w), c = stage_cfg.native_shape, stage_cfg.channels
        raise UserError(f"{path}: its detail stage is for {w}x{h}x{c} frames, its model draws "
                        f"{cfg.frame_width}x{cfg.size}x{cfg.channels}; {again}")
    shapes = {k: tuple(v.shape) for k, v in DetailStage(stage_cfg).state_dict().items()}
    stored = detail["model"]
    if set(stored) != set(shapes) or any(not isinstance(stored[k], torch.Tensor) or tuple(stored[k].shape) != s
                                         or not torch.isfinite(stored[k]).all() for k, s in shapes.items()):
        raise UserError(f"{path}: its detail stage's weights do not fit its config or are not finite; {again}")


def check_fields(cls, values, where):
    """Every field of dataclass `cls` in `values`, of its annotated type (int for float too; None where
    the default is None; a list of strings for a list); nothing else."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    odd = sorted(set(values) ^ set(fields))
    if odd:
        raise UserError(f"{where} has missing or unknown fields ({', '.join(map(str, odd[:3]))}); train it again")
    for name, f in fields.items():
        value, kind = values[name], f.type
        ok = (value is None and f.default is None) or {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "str": isinstance(value, str), "bool": isinstance(value, bool),
            "list": isinstance(value, list) and all(isinstance(v, str) for v in value)}.get(getattr(kind, "__name__", kind), False)
        if not ok:
            raise UserError(f"{where} field '{name}' is {value!r:.40}, not a {getattr(kind, '__name__', kind)}; train it again")


def _name(kind):
    return " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__


def load_config(path):
    """The TrainConfig a checkpoint was trained with."""
    return TrainConfig.from_dict(load_checkpoint(path)["train_config"])


def build_model(ckpt, device="cpu"):
    """The trained model (a DVAE, or a baseline of dvtex.train.baselines) from a checkpoint dict, in eval mode."""
    model = model_class(ckpt.get("method", "dvae"))(DVAEConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()

