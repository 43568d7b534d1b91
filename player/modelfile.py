"""The .onnx model file: a decoder graph h (batch, n) float32 -> frame (batch, H, W, 3) uint8, plus
everything needed to play it in `metadata_props` (JSON values under `dvtex.*` keys).

This module is the contract between `dvtex.export` (writes) and the player (reads); it never
imports torch or onnx, only ONNX Runtime for reading.
"""

import json
import os
from dataclasses import dataclass

import numpy as np

from dvtex.errors import UserError, first_line

FORMAT_VERSION = 1
FORMAT = f"dvtex-onnx/{FORMAT_VERSION}"
INPUT, OUTPUT = "h", "frame"
PREFIX = "dvtex."
REQUIRED = ("format", "n", "height", "width", "channels", "A", "B", "h0", "fps")


def encode_metadata(meta):
    """{key: value} -> {'dvtex.key': JSON text}, for onnx metadata_props."""
    return {PREFIX + key: json.dumps(value) for key, value in meta.items()}


def decode_metadata(props):
    """metadata_props as a dict -> {key: value} for the dvtex.* keys; non-JSON values are refused."""
    meta = {}
    for key, text in props.items():
        if key.startswith(PREFIX):
            meta[key[len(PREFIX):]] = json.loads(text)
    return meta


@dataclass
class ModelInfo:
    """A played model's facts, parsed and checked."""

    path: str
    n: int
    height: int
    width: int
    channels: int
    A: np.ndarray  # (n, n) float64, stationary with B
    B: np.ndarray
    h0: np.ndarray  # (k, n) initial states
    fps: float
    meta: dict  # everything, as stored

    @property
    def frame_shape(self):
        return (self.height, self.width, 3)


H0_LIMIT = 100.0  # a stored state further out than this from N(0, I)'s centre decodes to a saturated frame
MAX_N, MAX_SIDE, MAX_FPS = 1024, 16384, 1000.0


def _integer(meta, key, low, high, path):
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"{path}: metadata '{key}' must be a whole number from {low} to {high}, not {value!r}; "
                        "export the model again with dvtex-export")
    return value


def _matrix(meta, key, shape, path, limit=None):
    """A finite float64 array of `shape` (-1 for any length) from metadata, or a UserError naming the field."""
    try:
        value = np.asarray(meta[key], np.float64)
    except (TypeError, ValueError):
        value = None
    ok = value is not None and value.ndim == len(shape) and all(w in (-1, g) for w, g in zip(shape, value.shape))
    if not ok or not np.isfinite(value).all() or (limit is not None and value.size and np.abs(value).max() > limit):
        want = "x".join("k" if w == -1 else str(w) for w in shape)
        raise UserError(f"{path}: metadata '{key}' must be a {want} array of finite numbers"
                        + (f" within +-{limit:g}" if limit else "") + "; export the model again with dvtex-export")
    return value


def parse_metadata(meta, path):
    """Checked ModelInfo from decoded metadata: every field the player reads, of its type, shape and
    range (the schema of a model file, in one place); a foreign, newer or damaged file is a UserError."""
    fmt = meta.get("format")
    if fmt is None:
        raise UserError(f"{path} is an ONNX model without dvtex metadata; export a checkpoint with dvtex-export")
    if not isinstance(fmt, str) or not fmt.startswith("dvtex-onnx/"):
        raise UserError(f"{path}: unknown model format {fmt!r}")
    try:
        version = int(fmt.rsplit("/", 1)[1])
    except ValueError:
        raise UserError(f"{path}: unknown model format {fmt!r}") from None
    if version > FORMAT_VERSION:
        raise UserError(f"{path} is format {fmt}, newer than this dvtex reads ({FORMAT}); upgrade dvtex")
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise UserError(f"{path}: dvtex metadata lacks {', '.join(missing)}; export it again with dvtex-export")
    n = _integer(meta, "n", 1, MAX_N, path)
    height, width = (_integer(meta, k, 1, MAX_SIDE, path) for k in ("height", "width"))
    channels = _integer(meta, "channels", 1, 3, path)
    A, B = (_matrix(meta, k, (n, n), path, limit=10.0) for k in ("A", "B"))  # a stationary pair is a contraction
    h0 = _matrix({"h0": meta["h0"] if meta["h0"] else np.zeros((0, n))}, "h0", (-1, n), path, limit=H0_LIMIT)
    fps = meta["fps"]
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= MAX_FPS:  # nan fails too
        raise UserError(f"{path}: metadata 'fps' must be a number above 0 and at most {MAX_FPS:g}, not {fps!r}")
    return ModelInfo(path, n, height, width, channels, A, B, h0, float(fps), meta)


def check_graph(info, session):
    """The graph's input and output must be what the metadata says."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    names = ([i.name for i in inputs], [o.name for o in outputs])
    if names != ([INPUT], [OUTPUT]):
        raise UserError(f"{info.path}: graph has inputs {names[0]} and outputs {names[1]}; expected [h] -> [frame]")
    h_shape, frame_shape = inputs[0].shape, outputs[0].shape
    if inputs[0].type != "tensor(float)" or outputs[0].type != "tensor(uint8)":
        raise UserError(f"{info.path}: graph maps {inputs[0].type} to {outputs[0].type}; expected float to uint8")
    if len(h_shape) != 2 or h_shape[1] != info.n or list(frame_shape[1:]) != [info.height, info.width, 3]:
        raise UserError(f"{info.path}: graph shapes h {h_shape} -> frame {frame_shape} disagree with the metadata "
                        f"(n = {info.n}, {info.width}x{info.height})")


def provider_list(provider):
    """ONNX Runtime providers for --provider auto|cuda|cpu; cuda without a CUDA build is a UserError."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if provider == "cpu":
        return ["CPUExecutionProvider"]
    if provider == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise UserError("--provider cuda: this ONNX Runtime has no CUDA provider "
                            "(pip install 'dvtex[gpu]' on a machine with an NVIDIA GPU), or use --provider cpu")
        return ["CUDAExecutionProvider"]
    if provider != "auto":
        raise UserError(f"--provider {provider}: choose auto, cuda or cpu")
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def session_options(threads=2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy cores between frames
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return opts


def check_model_path(path):
    """Refuse, with a UserError, a model path that names a folder or nothing."""
    if os.path.isdir(path):
        raise UserError(f"{path} is a folder, not a model; name the .onnx file in it")
    if not os.path.isfile(path):
        raise UserError(f"no such model file: {path}")


def load_model(path, provider="auto", threads=2, cuda_graph=False):
    """Open a dvtex .onnx file: (onnxruntime.InferenceSession, ModelInfo). Refuses, with a UserError,
    a missing file, a file that is not ONNX, an ONNX without dvtex metadata, a newer format, and
    metadata that disagrees with the graph."""
    import onnxruntime as ort

    check_model_path(path)
    providers = provider_list(provider)
    if cuda_graph:  # replays a captured CUDA graph: needs fixed shapes and addresses (IOBinding)
        providers = [("CUDAExecutionProvider", {"enable_cuda_graph": "1"})]
    try:
        session = ort.InferenceSession(path, sess_options=session_options(threads), providers=providers)
    except Exception as err:  # ORT raises its own Fail/InvalidProtobuf/... types for unreadable files
        raise UserError(f"{path} is not a readable ONNX model ({first_line(err)})") from None
    try:
        meta = decode_metadata(session.get_modelmeta().custom_metadata_map)
    except (json.JSONDecodeError, RecursionError):
        raise UserError(f"{path}: its dvtex metadata is not valid JSON; export it again with dvtex-export") from None
    info = parse_metadata(meta, path)
    check_graph(info, session)
    return session, info
