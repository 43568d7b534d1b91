"""The Dynamic VAE (Sagel & Shen, ICASSP 2020): a VAE on pairs of successive frames whose decoder
starts with the dynamic layer F = [[I, 0], [A, B]].

    x = (x1, x2) ~ q(x | y_t, y_t+1)           encoder: DCGAN discriminator, 4n outputs (mean, log-var)
    (h1, h2) = (x1, A x1 + B x2)               dynamic layer
    (y_t, y_t+1) ~ N(C_eta(h1), C_eta(h2))     decoder C_eta: DCGAN generator, output variance sigma_y2
    loss = -ELBO + lam ||A A^T + B B^T - I||_F^2

The paper's recipe fixes sigma_y2; the sharp recipe (dvtex.train.objective) learns the variance and
adds the patch and motion statistics of frames decoded from the process itself.

Parameter names follow the reference implementation (github alexandersagel/DynamicVAE, vae.py):
`A`, `B`, `decoder.dense`, `decoder.deconv_first`, `decoder.deconv_list.{i}`.
"""

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dvtex.train.objective import (OCTAVES, penalty_weight, prior_term, process_batch, process_states,
                                   reconstruction_loss, statistics_terms)

# The paper's Table 1: resolution, conv layers, first kernel, output variance.
PRESETS = {
    "mnist32": dict(size=32, layers=4, kernel1=4, sigma_y2=8.0),
    "cows64": dict(size=64, layers=5, kernel1=4, sigma_y2=10.0),
    "saltpepper64": dict(size=64, layers=5, kernel1=4, sigma_y2=4.5),
    "rect128": dict(size=128, layers=5, kernel1=8, sigma_y2=8.0),
    "texture128": dict(size=128, layers=5, kernel1=8, sigma_y2=16.0),
}

# The decoder's 2x steps: the paper's 4x4 transposed convolution (stride 2), or a nearest resize and a
# 3x3 convolution, which cannot draw the transposed convolution's checkerboard (Odena et al. 2016).
DECODERS = ("dcgan", "resize")
# A nearest 2x resize and then a 3x3 convolution is a 4x4 transposed convolution (stride 2, padding 1)
# whose kernel is RESIZE_TAPS w RESIZE_TAPS^T, border included: output pixel 2i sees x[i-1] through w's
# first tap and x[i] through the other two, pixel 2i+1 sees x[i] through the first two and x[i+1]
# through the last. Run that way it costs what the paper's step costs, not 2.25 times as much.
RESIZE_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def paper_step(c_in, c_out):
    """The paper decoder's 2x step: a 4x4 transposed convolution, stride 2, padding 1."""
    return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1)


def resize_kernel(weight):
    """The 4x4 transposed convolution's kernel (c, c', 4, 4) that a resize step's 3x3 conv weight
    (c', c, 3, 3) runs as."""
    taps = RESIZE_TAPS.to(weight)
    return torch.einsum("ak,oikl,bl->ioab", taps, weight, taps)


@dataclass
class DVAEConfig:
    size: int = 64  # frame height (and width, unless kernel1_w widens the frames)
    channels: int = 1  # 1 grey, 3 RGB
    layers: int = 5  # conv layers in encoder and decoder
    kernel1: int = 4  # kernel of the encoder's last / decoder's first layer
    width: int = 128  # d: channels of the encoder's first layer
    n: int = 10  # latent size
    sigma_y2: float = 10.0  # output variance
    lam: float = 100.0  # weight of the stationarity penalty
    masked: bool = False  # the encoder also sees the two mask channels
    ds: int = 1  # bilinear upsampling after the decoder (imported reference models only)
    preset: str = ""
    likelihood: str = "fixed"  # fixed: sigma_y2; learnt: the calibrated variance (dvtex.train.objective)
    texture: float = 0.0  # weight of the process frames' patch statistics
    motion: float = 0.0  # weight of the process frame differences' patch statistics
    prior: float = 0.0  # weight of the encoded states' distance from N(0, I), against the stationarity penalty
    regions: int = 1  # the statistics compare patches cell by cell on a regions x regions grid (objective.patch_swd)
    regions_from: int = 0  # ... on the pyramid levels from this one on (0 the finest octave, OCTAVES the low-pass rest)
    levels: int = OCTAVES + 1  # the texture term compares the finest `levels` pyramid levels (OCTAVES + 1: all, the rest too)
    motion_levels: int = OCTAVES + 1  # ... and the motion term its finest `motion_levels`
    kernel1_w: int = 0  # width of that first/last kernel for frames that are not square (0: kernel1)
    encoder_width: int = 0  # the encoder's d, where it is narrower than the decoder's (0: width)
    decoder: str = "dcgan"  # each 2x step: dcgan (a transposed convolution, the paper's) or resize (DECODERS)

    def __post_init__(self):
        if self.likelihood not in ("fixed", "learnt"):
            raise ValueError(f"likelihood {self.likelihood!r} is neither 'fixed' nor 'learnt'")
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder {self.decoder!r} is not one of {', '.join(DECODERS)}")
        native = self.kernel1 * 2 ** (self.layers - 1)
        if native * self.ds != self.size:
            raise ValueError(f"size {self.size} != kernel1 {self.kernel1} * 2^(layers-1) * ds {self.ds}")
        if self.width % 2 ** max(self.layers - 2, 0):
            raise ValueError(f"width {self.width} must be divisible by 2^(layers-2)")
        if self.regions < 1:
            raise ValueError(f"regions {self.regions} is below 1")
        if not 0 <= self.regions_from <= OCTAVES:
            raise ValueError(f"regions_from {self.regions_from} is not a pyramid level 0-{OCTAVES}")
        for name in ("levels", "motion_levels"):
            if not 1 <= getattr(self, name) <= OCTAVES + 1:
                raise ValueError(f"{name} {getattr(self, name)} is not a count of pyramid levels 1-{OCTAVES + 1}")
        if self.kernel1_w < 0:
            raise ValueError(f"kernel1_w {self.kernel1_w} is negative")
        if self.encoder_width < 0 or self.encoder_width % 2 ** max(self.layers - 2, 0):
            raise ValueError(f"encoder_width {self.encoder_width} must be 0 or divisible by 2^(layers-2)")

    @property
    def kernel1_shape(self):
        return (self.kernel1, self.kernel1_w or self.kernel1)

    @property
    def frame_width(self):
        return self.kernel1_shape[1] * 2 ** (self.layers - 1) * self.ds

    @property
    def frame_shape(self):
        """(height, width) of a frame."""
        return (self.size, self.frame_width)

    @classmethod
    def from_preset(cls, name, **overrides):
        if name not in PRESETS:
            raise KeyError(name)
        return cls(**{**PRESETS[name], "preset": name, **overrides})

    def to_dict(self):
        return asdict(self)


def _dcgan_init(module):
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)


class Encoder(nn.Module):
    """DCGAN discriminator on a frame pair (+ mask channels) -> mean and log-variance of x in R^2n.
    With frames=1 (the VAE baseline) it reads one frame and gives those of a state in R^n."""

    def __init__(self, cfg, frames=2):
        super().__init__()
        d = cfg.encoder_width or cfg.width  # only training needs the encoder: it may be narrower
        self.conv_first = nn.Conv2d(frames * (cfg.channels + (1 if cfg.masked else 0)), d, 4, 2, 1)
        self.conv_list = nn.ModuleList()
        self.bn_list = nn.ModuleList()
        for i in range(cfg.layers - 2):
            self.conv_list.append(nn.Conv2d(d * 2**i, d * 2 ** (i + 1), 4, 2, 1))
            self.bn_list.append(nn.BatchNorm2d(d * 2 ** (i + 1)))
        self.conv_last = nn.Conv2d(d * 2 ** (cfg.layers - 2), 2 * frames * cfg.n, cfg.kernel1_shape, 1, 0)
        self.ds = cfg.ds

    def forward(self, y):  # (B, 2C[+2], H, W) -> (B, 4n)
        if self.ds > 1:
            y = F.interpolate(y, scale_factor=1.0 / self.ds, mode="bilinear")
        x = F.leaky_relu(self.conv_first(y), 0.2)
        for conv, bn in zip(self.conv_list, self.bn_list):
            x = F.leaky_relu(bn(conv(x)), 0.2)
        return self.conv_last(x).flatten(1)


class Decoder(nn.Module):
    """C_eta: DCGAN generator from a latent state h (B, n) to a frame (B, C, H, W) in [-1, 1]; with
    cfg.decoder "resize", each 2x step is a nearest resize and a 3x3 convolution (same names; run as
    a transposed convolution, RESIZE_TAPS)."""

    def __init__(self, cfg):
        super().__init__()
        chan = cfg.width * 2 ** (cfg.layers - 2)
        self.dense = nn.Linear(cfg.n, 100)
        self.deconv_first = nn.ConvTranspose2d(100, chan, cfg.kernel1_shape, 1, 0)
        self.deconv_list = nn.ModuleList()
        self.resize = cfg.decoder == "resize"
        for i in range(cfg.layers - 1):
            out = chan // 2 if i < cfg.layers - 2 else cfg.channels
            step = nn.Conv2d(chan, out, 3, 1, 1) if self.resize else paper_step(chan, out)
            self.deconv_list.append(step)
            chan = out
        self.ds, self.channels = cfg.ds, cfg.channels

    def step(self, i, x):
        """The i-th 2x step on the feature map x (B, c, h, w) -> (B, c', 2h, 2w)."""
        deconv = self.deconv_list[i]
        if not self.resize:
            return deconv(x)
        return F.conv_transpose2d(x, resize_kernel(deconv.weight), deconv.bias, stride=2, padding=1)

    def fold_resize_steps(self):
        """Make each resize step the transposed convolution it runs as, its kernel computed once (in
        place; the frames are unchanged): an exported graph is then the paper's, with no Einsum nodes."""
        if not self.resize:
            return self
        with torch.no_grad():
            for i, conv in enumerate(self.deconv_list):
                step = paper_step(conv.in_channels, conv.out_channels).to(conv.weight)
                step.weight.copy_(resize_kernel(conv.weight))
                step.bias.copy_(conv.bias)
                self.deconv_list[i] = step
        self.resize = False
        return self

    def forward(self, h):
        x = self.deconv_first(self.dense(h)[:, :, None, None])
        for i in range(len(self.deconv_list)):
            x = self.step(i, F.relu(x))
        if self.ds > 1:
            x = F.interpolate(x, scale_factor=self.ds, mode="bilinear")
        return torch.tanh(x)


class TextureModel(nn.Module):
    """What training asks of a model, whatever its method (the DVAE below, the baselines in
    dvtex.train.baselines): its parameter groups, how it learns, and what it fits before a checkpoint."""

    method = ""
    learns_from_masks = True
    learns_by_steps = True  # False: fitted in closed form, whatever the budget
    ignores = ()  # TrainConfig fields its result does not depend on (dvtex-eval --reuse)

    def parameter_groups(self, lr, lr_dynamics):
        """Adam's groups: everything learnt by gradient steps, at `lr`."""
        return [{"params": [p for p in self.parameters() if p.requires_grad], "lr": lr}]

    def fit(self, training):
        """Learn from `training.pairs` within its budget: gradient steps (`training.descend()`)."""
        training.descend()

    def complete(self, pairs):
        """Before every checkpoint: fit whatever gradient steps do not learn (nothing here)."""

    def track_variance(self, cfg):
        """A learnt likelihood keeps its variance (a running mean over batches) for the checkpoint."""
        if cfg.likelihood == "learnt":
            self.register_buffer("sigma2", torch.tensor(0.0))

    def note_variance(self, var):
        if self.training and hasattr(self, "sigma2"):
            seen = self.sigma2 > 0
            self.sigma2.copy_(torch.where(seen, 0.95 * self.sigma2 + 0.05 * var.detach(), var.detach()))

    def output_variance(self):
        """sigma_y2 in the paper's convention (it divides the summed squared error): fixed or learnt."""
        if hasattr(self, "sigma2"):
            return float(2 * self.sigma2)
        return float(self.cfg.sigma_y2)


def stationarity_penalty(A, B):
    """||A A^T + B B^T - I||_F^2: zero exactly when N(0, I) is the stationary law of h <- A h + B v."""
    eye = torch.eye(A.shape[0], device=A.device, dtype=A.dtype)
    return ((A @ A.T + B @ B.T - eye) ** 2).sum()


class DVAE(TextureModel):
    """The Dynamic VAE: encoder, dynamic layer (A, B) and decoder C_eta, all learnt jointly."""

    method = "dvae"

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.A = nn.Parameter(torch.eye(cfg.n) * 0.70711)
        self.B = nn.Parameter(torch.eye(cfg.n) * 0.70711)
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.encoder.apply(_dcgan_init)
        self.decoder.apply(_dcgan_init)
        self.track_variance(cfg)

    def parameter_groups(self, lr, lr_dynamics):
        """A and B at their own rate: 200 numbers with a weak, noisy gradient."""
        others = [p for name, p in self.named_parameters() if p.requires_grad and name not in ("A", "B")]
        return [{"params": others, "lr": lr}, {"params": [self.A, self.B], "lr": lr_dynamics}]

    def encoder_input(self, y, mask):
        if not self.cfg.masked:
            return y
        if mask is None:  # a model trained on incomplete data, shown complete frames
            mask = torch.ones_like(y[:, :2])
        c = self.cfg.channels
        return torch.cat([y * mask.repeat_interleave(c, dim=1), mask], dim=1)

    def encode(self, y, mask=None):
        """Mean and log-variance of q(x | pair), each (B, 2n)."""
        return self.encoder(self.encoder_input(y, mask)).chunk(2, dim=1)

    @torch.no_grad()
    def states(self, y, mask=None):
        """Latent states h_t of the pairs' first frames: the x1 half of the encoder mean, (B, n)."""
        return self.encode(y, mask)[0][:, : self.cfg.n]

    def dynamic_layer(self, x):  # (B, 2n) -> h1, h2 (B, n) each
        x1, x2 = x.chunk(2, dim=1)
        return x1, x1 @ self.A.T + x2 @ self.B.T

    def forward(self, y, mask=None, samples=1, kl_weight=1.0, statistics=True):
        """Loss terms for a batch of pairs y (B, 2C, H, W), with `samples` reparameterised draws each;
        the statistics terms only where `statistics` (and the config weighs them)."""
        mu, logvar = self.encode(y, mask)
        if samples > 1:
            mu_s, logvar_s = mu.repeat(samples, 1), logvar.repeat(samples, 1)  # (S*B, 2n)
        else:
            mu_s, logvar_s = mu, logvar
        x = mu_s + torch.randn_like(mu_s) * torch.exp(0.5 * logvar_s)
        h1, h2 = self.dynamic_layer(x)
        cfg, half = self.cfg, len(h1)
        k = process_batch(len(y)) if statistics and (cfg.texture or cfg.motion) and mask is None else 0
        states = [h1, h2, *process_states(self.A, self.B, k)] if k else [h1, h2]
        frames = self.decoder(torch.cat(states)).float()  # (2SB [+ 2k], C, H, W)
        out = torch.cat([frames[:half], frames[half:2 * half]], dim=1)  # (SB, 2C, H, W)
        seen = None if mask is None else mask.repeat_interleave(cfg.channels, dim=1).repeat(samples, 1, 1, 1)
        rec, var = reconstruction_loss(out, y.repeat(samples, 1, 1, 1), seen, cfg)
        self.note_variance(var)
        if k:
            fake = torch.cat([frames[2 * half:2 * half + k], frames[2 * half + k:]], dim=1)  # (k, 2C, H, W)
            texture, motion = statistics_terms(fake, y[:k], cfg.channels, var, float(out[0].numel()), cfg)
        else:
            texture = motion = rec.new_zeros(())
        mu, logvar = mu.float(), logvar.float()
        kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(dim=1).mean()
        stat = stationarity_penalty(self.A.float(), self.B.float())
        loss = rec + kl_weight * kl + penalty_weight(var, cfg) * stat + prior_term(x, var, cfg) + texture + motion
        return {"loss": loss, "rec": rec, "kl": kl, "stat": stat, "texture": texture + motion}
