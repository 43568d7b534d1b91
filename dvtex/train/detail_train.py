"""Training the detail stage (dvtex.train.detail) on a finished DVAE checkpoint: `train_detail(config)`.

The DVAE stays frozen. The stage learns from the checkpoint's own source, loaded again at the output
size, with two terms:
- pixel: each frame's DVAE reconstruction (the decoder at the encoder's mean state of its pair, from
  the frames downsampled to the DVAE's size), upscaled by the stage, against the frame at full size
  (an L1 error, per pixel);
- texture: frames decoded from the process as it is played (h ~ N(0, I)), upscaled by the stage,
  against full-size source frames: the sharp recipe's patch statistics (dvtex.train.objective), by
  default on the octaves finer than the DVAE's frames only (what bicubic upscaling cannot supply).
Both train on random crops (fully convolutional), each with a margin that the loss leaves out, so the
crop's edge never stands in for the frame's.
"""

import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from dvtex import __version__
from dvtex.errors import UserError
from dvtex.train.checkpoint import build_model, load_checkpoint, save_checkpoint
from dvtex.train.data import FramePairs, Sequence, crop_shape, load_source, resize_frame, to_grey
from dvtex.train.detail import FACTORS, UPSAMPLES, DetailConfig, DetailStage
from dvtex.train.loop import Diverged, check_writable, cosine_factor, descend_once, pick_device, progress_bar
from dvtex.train.model import DVAEConfig
from dvtex.train.objective import patch_swd

BANDS = ("all", "fine")
MARGIN = 6  # pixels at the DVAE's size around each crop: more than the stage's reach (5, the bicubic 2)


@dataclass
class DetailTrainConfig:
    checkpoint: str = ""  # a DVAE trained by dvtex-train
    output: str = "model256.pt"  # the DVAE with its detail stage
    out_size: int = 256  # the output's height: 2x or 4x the DVAE's (its width follows the model's aspect)
    steps: int = 2000
    batch: int = 16  # crops per step, of each kind
    crop: int = None  # crop side at the DVAE's size (times the factor at the output's); None: up to 32
    lr: float = 1e-3  # Adam, along a half cosine over the steps
    pixel: float = 1.0  # weight of the L1 error against the full-size frame
    texture: float = 64.0  # weight of the played frames' patch statistics (benchmarks/detail.py chose it)
    bands: str = "fine"  # the octaves they compare: fine (those finer than the DVAE's size; chosen there) or all
    width: int = 32  # the stage's channels at the DVAE's size
    upsample: str = "shuffle"  # each 2x step: shuffle, filtered or resize (dvtex.train.detail.DetailStage)
    noise: int = 0  # channels of latent-driven noise the stage reads
    seed: int = 0
    device: str = "auto"

    def to_dict(self):
        return asdict(self)

    def validate(self):
        """Refuse, before any work, what cannot train: one UserError naming the option."""
        for name, low in (("out_size", 2), ("steps", 1), ("batch", 1), ("crop", 4), ("width", 2), ("seed", 0)):
            value = getattr(self, name)
            if value is None and name == "crop":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise UserError(f"--{name.replace('_', '-')} must be a whole number of at least {low}, not {value}")
        for name in ("lr", "pixel", "texture"):
            value, low = getattr(self, name), "above 0" if name == "lr" else "of at least 0"
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                    and (value > 0 if name == "lr" else value >= 0)):
                raise UserError(f"--{name} must be a finite number {low}, not {value}")
        if not self.pixel and not self.texture:
            raise UserError("--pixel 0 and --texture 0 leave nothing to learn; keep one of them above 0")
        if self.bands not in BANDS:
            raise UserError(f"--bands {self.bands}: choose {', '.join(BANDS)}")
        if self.upsample not in UPSAMPLES:
            raise UserError(f"--upsample {self.upsample}: choose {', '.join(UPSAMPLES)}")
        if not isinstance(self.noise, int) or isinstance(self.noise, bool) or not 0 <= self.noise <= 64:
            raise UserError(f"--noise must be a whole number from 0 to 64, not {self.noise}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UserError(f"--device {self.device}: choose auto, cpu or cuda")
        return self


def check_base(ckpt, config):
    """The DVAE checkpoint and the output size together: the factor, the crop and the source."""
    path = config.checkpoint
    if ckpt.get("method", "dvae") != "dvae":
        raise UserError(f"{path} is a {ckpt['method']} model; the detail stage learns from a DVAE's "
                        "reconstructions: train one with dvtex-train (--method dvae)")
    native, native_w = DVAEConfig(**ckpt["config"]).frame_shape
    factor = config.out_size // native
    if config.out_size % native or factor not in FACTORS:
        sizes = " or ".join(str(native * f) for f in FACTORS)
        raise UserError(f"--out-size {config.out_size}: the detail stage makes frames 2x or 4x the model's "
                        f"{native_w}x{native}; use --out-size {sizes}")
    if ckpt["config"]["masked"]:
        raise UserError(f"{path} was trained on incomplete frames (--mask); the detail stage learns from complete ones")
    if config.crop is not None and config.crop + 2 * MARGIN > min(native, native_w):
        raise UserError(f"--crop {config.crop}: at most {min(native, native_w) - 2 * MARGIN} for a {native_w}x{native} model")
    for source in ckpt["data"]:
        spec, raw = source["source"], source["raw_size"]
        held = crop_shape(raw, (native, native_w))[0]  # the source's rows at the model's aspect
        if not spec.startswith("procedural:") and held < config.out_size:
            fits = [native * f for f in FACTORS if native * f <= held]
            hint = f"use --out-size {fits[-1]}" if fits else "the stage needs a source larger than the model"
            raise UserError(f"--out-size {config.out_size} is larger than {spec} ({raw[1]}x{raw[0]}): the stage learns "
                            f"detail from the source's own frames; {hint}")
    return factor


def load_full_size(ckpt, shape, channels):
    """The checkpoint's sources again, at the output's (height, width): uint8 sequences (T, H, W, C)."""
    seed = ckpt["train_config"]["seed"]
    seqs = []
    for i, source in enumerate(ckpt["data"]):
        try:
            frames, fps, raw = load_source(source["source"], shape, seed + i)
        except UserError as err:
            raise UserError(f"the detail stage learns from the model's own source, and {err}") from None
        seqs.append(Sequence(source["source"], to_grey(frames) if channels == 1 else frames, fps, tuple(raw)))
    return seqs


def downsample(frames, shape):
    """uint8 (T, H, W, C) -> (T, height, width, C) at `shape`, antialiased as training data is."""
    grey = frames.shape[3] == 1
    out = np.stack([resize_frame(f[..., 0] if grey else f, shape) for f in frames])
    return out[..., None] if grey else out


@torch.no_grad()
def reconstructions(model, small_seqs, batch=64):
    """Each pair's first frame as the DVAE draws it: C_eta at the encoder's mean h (N, n), the frames
    (N, C, s, s), and the index of that frame among all frames."""
    pairs = FramePairs(small_seqs)
    states, out = [], []
    for idx in torch.arange(len(pairs)).split(batch):
        y, _ = pairs.batch(idx)
        h1, _ = model.dynamic_layer(model.encode(y)[0])
        states.append(h1)
        out.append(model.decoder(h1))
    return torch.cat(states), torch.cat(out), pairs.first


def crops(gen, count, shape, crop, margin=0):
    """`count` random (top, left) corners of crops of crop + 2 margin pixels inside frames of `shape`."""
    reach = crop + 2 * margin
    return torch.stack([torch.randint(0, side - reach + 1, (count,), generator=gen) for side in shape], dim=1)


def cut(frames, corners, size, scale=1):
    """(N, C, H, W) -> (N, C, size, size): one crop per frame, at corners (N, 2) times `scale`."""
    return torch.stack([f[:, t * scale:t * scale + size, l * scale:l * scale + size]
                        for f, (t, l) in zip(frames, corners.tolist())])


class DetailTraining:
    """The frozen DVAE, the stage and its optimizer, and the data of both terms."""

    def __init__(self, config, ckpt, device):
        self.config, self.ckpt, self.device = config, ckpt, device
        self.model = build_model(ckpt, device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        cfg = self.model.cfg
        self.native, self.factor = cfg.frame_shape, config.out_size // cfg.size
        self.crop = config.crop or min(32, min(self.native) - 2 * MARGIN)
        torch.manual_seed(config.seed)
        self.stage = DetailStage(DetailConfig(self.factor, cfg.channels, config.width, native=cfg.size,
                                              native_width=cfg.frame_width if cfg.kernel1_w else 0,
                                              upsample=config.upsample, noise=config.noise, n=cfg.n)).to(device)
        self.opt = torch.optim.Adam(self.stage.parameters(), lr=config.lr)
        self.gen = torch.Generator().manual_seed(config.seed)
        full = load_full_size(ckpt, self.stage.cfg.shape, cfg.channels)
        small = [Sequence(s.name, downsample(s.frames, self.native), s.fps, s.raw_size) for s in full]
        self.full = torch.from_numpy(np.concatenate([s.frames for s in full])).permute(0, 3, 1, 2).contiguous()
        self.states, self.recon, self.first = reconstructions(self.model, small)
        self.step, self.history = 0, []

    def batch_of(self, frames_small, frames_full=None):
        """Stage inputs with their margins and, given full frames, the aligned targets."""
        c, m, f, b = self.crop, MARGIN, self.factor, len(frames_small)
        corners = crops(self.gen, b, self.native, c, m)
        inp = cut(frames_small, corners, c + 2 * m)
        if frames_full is None:
            return inp, None
        return inp, cut(frames_full, corners + m, c * f, scale=f)

    def interior(self, out):
        m = MARGIN * self.factor
        return out[:, :, m:-m, m:-m]

    def texture(self, fake, real):
        """The patch statistics of played against real crops at the output's size: every octave and the
        low-pass rest ("all"), or only the log2(factor) finest octaves, the detail that a frame of the
        DVAE's size cannot hold ("fine"): then the stage is not asked to mend what the DVAE draws."""
        if self.config.bands == "fine":
            return patch_swd(fake, real, levels=int(math.log2(self.factor)), low_pass=False)
        return patch_swd(fake, real)

    def train_once(self):
        config, dev = self.config, self.device
        idx = torch.randint(len(self.recon), (config.batch,), generator=self.gen)
        full = self.full[self.first[idx]].to(dev).float() / 127.5 - 1
        inp, target = self.batch_of(self.stage.features(self.recon[idx].to(dev), self.states[idx].to(dev)), full)
        pixel = (self.interior(self.stage.draw(inp)) - target).abs().mean()
        texture = pixel.new_zeros(())
        if config.texture:
            h = torch.randn(config.batch, self.model.cfg.n, generator=self.gen).to(dev)  # the stationary law
            with torch.no_grad():
                played = self.stage.features(self.model.decoder(h), h)
            fake = self.interior(self.stage.draw(self.batch_of(played)[0]))
            real_idx = torch.randint(len(self.full), (config.batch,), generator=self.gen)
            side = self.crop * self.factor
            corners = crops(self.gen, config.batch, self.full.shape[2:], side)
            real = cut(self.full[real_idx], corners, side).to(dev).float() / 127.5 - 1
            texture = self.texture(fake, real)
        loss = config.pixel * pixel + config.texture * texture
        for group in self.opt.param_groups:
            group["lr"] = config.lr * cosine_factor(self.step, config.steps)
        try:
            descend_once(self.opt, loss)
        except Diverged as err:
            raise UserError(f"--detail: training diverged at step {self.step + 1} ({err}); nothing was written to "
                            f"{config.output}; train again with a lower --lr (now {config.lr:g}) or --texture") from None
        self.step += 1
        self.history.append([self.step, loss.item(), pixel.item(), texture.item()])

    def checkpoint(self, minutes, stopped_by=None):
        """The DVAE's checkpoint, whole, with the stage beside it."""
        stage = {k: v.detach().to("cpu", copy=True) for k, v in self.stage.state_dict().items()}
        detail = {"config": self.stage.cfg.to_dict(), "model": stage, "step": self.step, "out_size": self.config.out_size,
                  "train_config": self.config.to_dict(), "minutes": minutes, "history": list(self.history),
                  "stopped_by": stopped_by, "dvtex_version": __version__}
        return {**self.ckpt, "detail": detail}


def check_output(path):
    check_writable(path, "model256.pt")
    if os.path.exists(path):
        raise UserError(f"{path} exists; choose another -o")


def train_detail(config, log=None):
    """Train the detail stage of `config.checkpoint`; writes and returns the checkpoint with it.
    Ctrl-C or SIGTERM stops early and saves the stage as it is (`detail.stopped_by` says so)."""
    log = log or (lambda msg: print(f"dvtex-train --detail: {msg}", file=sys.stderr))
    config.validate()
    check_output(config.output)
    ckpt = load_checkpoint(config.checkpoint)
    factor = check_base(ckpt, config)
    if "detail" in ckpt:
        log(f"{config.checkpoint} has a detail stage already; training a new one in its place")
        ckpt = {k: v for k, v in ckpt.items() if k != "detail"}
    device = pick_device(config.device)
    training = DetailTraining(config, ckpt, device)
    params = sum(p.numel() for p in training.stage.parameters())
    (h, w), (nh, nw) = training.stage.cfg.shape, training.native
    log(f"{len(training.recon)} frames of {', '.join(d['source'] for d in ckpt['data'])} at {w}x{h}, "
        f"{factor}x the model's {nw}x{nh}; {params} parameters, {device.type}")
    stop = {"by": None}
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread:
        previous = signal.signal(signal.SIGTERM, lambda signum, _: stop.update(by="SIGTERM"))
    bar, start = progress_bar(config.steps, 0, True), time.monotonic()
    try:
        while training.step < config.steps and not stop["by"]:
            training.train_once()
            bar.update(1)
            if training.step % 10 == 0 or training.step == 1:
                row = training.history[-1]
                bar.set_postfix({"loss": f"{row[1]:.4f}", "L1": f"{row[2]:.4f}", "texture": f"{row[3]:.4f}"}, refresh=False)
    except KeyboardInterrupt:
        stop["by"] = "SIGINT"
    finally:
        bar.close()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    out = training.checkpoint((time.monotonic() - start) / 60, stop["by"])
    save_checkpoint(out, config.output)
    return out
