"""The detail stage: frames 2x or 4x the DVAE's size, with detail learnt from the source's own
full-resolution frames (issue 15). The latent process and the decoder C_eta stay as they are:

    y = C_eta(h)                     (B, C, s, s)       the DVAE's frame, s = 64 on a CPU
    Y = up(y) + D(y)                 (B, C, fs, fs)     up: bicubic; D: a small sub-pixel convolutional
                                                        net (ESPCN, Shi et al. 2016) that draws the rest

D is trained with the DVAE frozen (dvtex.train.detail_train), on what the player will feed it: frames
the DVAE decodes. Its output starts as the bicubic upscale (the last layer starts at zero), so every
step moves it from interpolation towards the source's own detail.
"""

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

FACTORS = (2, 4)
UPSAMPLES = ("filtered", "shuffle", "resize")
HOLD = (0.25, 0.5, 0.25)  # what "filtered" smooths each sub-pixel convolution's output with, along each axis
NOISE_SEED = 1234


@dataclass
class DetailConfig:
    factor: int = 4  # output side / the DVAE's side
    channels: int = 3  # the DVAE's: 1 grey, 3 RGB
    width: int = 32  # channels at the DVAE's resolution; half of it at each larger one
    blocks: int = 2  # residual 3x3 blocks at the DVAE's resolution
    native: int = 64  # the DVAE's frame height
    native_width: int = 0  # and its width, where it is not square (0: native)
    upsample: str = "shuffle"  # each 2x step: shuffle (a sub-pixel convolution), filtered (the same, then HOLD)
    # or resize (nearest, then a convolution)
    noise: int = 0  # input channels of latent-driven noise (0: none)
    n: int = 10  # the latent size (for the noise)

    def __post_init__(self):
        if self.factor not in FACTORS:
            raise ValueError(f"factor {self.factor} is not one of {FACTORS}")
        if self.upsample not in UPSAMPLES:
            raise ValueError(f"upsample {self.upsample!r} is not one of {', '.join(UPSAMPLES)}")
        if not 0 <= self.noise <= 64:
            raise ValueError(f"noise {self.noise} is not 0 to 64 channels")
        if self.width < 2 or self.width % 2 ** (int(math.log2(self.factor)) - 1):
            raise ValueError(f"width {self.width} must be at least 2 and halve at each 2x step")

    @property
    def native_shape(self):
        return (self.native, self.native_width or self.native)

    @property
    def shape(self):
        """(height, width) of the frames it makes."""
        return (self.native * self.factor, self.native_shape[1] * self.factor)

    def to_dict(self):
        return asdict(self)


def bicubic_filters(factor, a=-0.75):
    """Bicubic upsampling by `factor` as fixed 5x5 filters, one per output phase, (factor^2, 5, 5): the
    same as torch's (a = -0.75, half-pixel centres, edges replicated) on a frame padded by 2, then a
    pixel shuffle. ONNX Runtime's own cubic Resize took three quarters of a 256x256 decode."""
    def weight(x):
        x = abs(x)
        return (a + 2) * x**3 - (a + 3) * x**2 + 1 if x <= 1 else a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a if x < 2 else 0.0

    taps = torch.zeros(factor, 5, dtype=torch.float64)
    for phase in range(factor):
        src = (phase + 0.5) / factor - 0.5
        first = math.floor(src)
        t = src - first
        for offset, w in zip(range(first - 1, first + 3), (weight(1 + t), weight(t), weight(1 - t), weight(2 - t))):
            taps[phase, offset + 2] = w
    return torch.einsum("pi,qj->pqij", taps, taps).reshape(factor * factor, 5, 5).float()


def _conv(c_in, c_out):
    # Replicated borders: zero padding would draw a dark frame round every texture.
    return nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="replicate")


class DetailStage(nn.Module):
    """(B, C, s, s) frames in [-1, 1] -> (B, C, fs, fs): bicubic upsampling plus a learnt residual.
    Most of the work is done at the input's resolution; each 2x step is a pixel shuffle. Its sub-pixel
    positions each have their own weights, so on its own ("shuffle") it can draw a pattern that repeats
    every 2 pixels even where the frame is flat, and it did (a fine grid over the whole frame).
    "filtered" follows each shuffle with the fixed filter [1, 2, 1] / 4 along each axis: that averages
    any 2-periodic pattern to its mean, so a flat input gives a flat output (Sugawara et al. 2019, a
    checkerboard-free sub-pixel convolution), and it is centred (no half-pixel shift). "resize" is a
    nearest-neighbour resize and a convolution (the same weights everywhere: it cannot draw the grid).

    With `noise` channels the stage also reads a noise field driven by the latent state: fixed random
    patterns Z_k mixed by h, sum_k h_k Z_k / sqrt(n). Under the stationary law h ~ N(0, I) it is white
    noise at every pixel, it changes as smoothly as the process does, and it stays a function of h (a
    frame is still decided by its state: loops and the export's verification hold)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        if cfg.noise:
            gen = torch.Generator().manual_seed(NOISE_SEED)
            self.register_buffer("patterns", torch.randn(cfg.n, cfg.noise * cfg.native_shape[0] * cfg.native_shape[1],
                                                         generator=gen) / math.sqrt(cfg.n))
        self.register_buffer("bicubic", bicubic_filters(cfg.factor).repeat(cfg.channels, 1, 1)[:, None], persistent=False)
        self.register_buffer("hold", torch.outer(torch.tensor(HOLD), torch.tensor(HOLD))[None, None], persistent=False)
        self.head = _conv(cfg.channels + cfg.noise, w)
        self.body = nn.ModuleList(_conv(w, w) for _ in range(cfg.blocks))
        self.ups = nn.ModuleList()
        self.mids = nn.ModuleList()
        chan = w
        for step in range(int(math.log2(cfg.factor))):
            last = step == int(math.log2(cfg.factor)) - 1
            out = cfg.channels if last else chan // 2
            self.ups.append(_conv(chan, out if cfg.upsample == "resize" else out * 4))
            if not last:
                self.mids.append(_conv(out, out))
            chan = out
        nn.init.zeros_(self.ups[-1].weight)
        nn.init.zeros_(self.ups[-1].bias)

    def features(self, y, h=None):
        """What the stage reads: the frames (B, C, s, s) and, with noise channels, the noise field of h (B, n)."""
        if not self.cfg.noise:
            return y
        field = (h.float() @ self.patterns).reshape(-1, self.cfg.noise, *y.shape[2:])  # (B, K, s, s)
        return torch.cat([y, field], dim=1)

    def draw(self, x):  # features (B, C [+ K], s, s) -> (B, C, fs, fs)
        base = self.upscale(x[:, :self.cfg.channels])
        x = F.relu(self.head(x))
        for conv in self.body:
            x = x + F.relu(conv(x))
        for i, up in enumerate(self.ups):
            if self.cfg.upsample == "shuffle":
                x = F.pixel_shuffle(up(x), 2)
            elif self.cfg.upsample == "filtered":
                x = self.smooth(F.pixel_shuffle(up(x), 2), up.out_channels // 4)
            else:
                x = up(F.interpolate(x, scale_factor=2, mode="nearest"))
            if i < len(self.mids):
                x = F.relu(self.mids[i](F.relu(x)))
        return base + x

    def smooth(self, x, channels):
        """HOLD along each axis, per channel, borders replicated: (B, channels, H, W) -> the same. The
        channel count is the module's, not the tensor's, so the exported graph has fixed weights."""
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.hold.expand(channels, 1, 3, 3), groups=channels)

    def upscale(self, y):
        """Bicubic upsampling by the factor, (B, C, s, s) -> (B, C, fs, fs), as fixed filters."""
        padded = F.pad(y, (2, 2, 2, 2), mode="replicate")
        return F.pixel_shuffle(F.conv2d(padded, self.bicubic, groups=self.cfg.channels), self.cfg.factor)

    def forward(self, y, h=None):  # (B, C, s, s) [and their states (B, n)] -> (B, C, fs, fs)
        return self.draw(self.features(y, h))


class DetailedDecoder(nn.Module):
    """C_eta followed by the detail stage: h (B, n) -> (B, C, fs, fs), what the exported graph decodes."""

    def __init__(self, decoder, stage):
        super().__init__()
        self.decoder, self.stage = decoder, stage
        self.channels = decoder.channels

    def forward(self, h):
        return self.stage(self.decoder(h), h).clamp(-1, 1)


def build_detail(ckpt):
    """The trained detail stage of a checkpoint (eval mode), or None when it has none."""
    detail = ckpt.get("detail")
    if detail is None:
        return None
    stage = DetailStage(DetailConfig(**detail["config"]))
    stage.load_state_dict(detail["model"])
    return stage.eval()
