"""What a model is trained to match, beyond the paper's fixed-variance ELBO: a calibrated likelihood
and the texture statistics of the process as it is played.

- Calibrated Gaussian decoder (Rybkin et al. 2021, "Simple and Effective VAE Training with Calibrated
  Decoders"): the shared output variance is the one that maximises the likelihood of the batch,
  sigma^2 = mean squared error, so nobody tunes sigma_y2. The reconstruction term is then
  sum(err) / (2 sigma^2) + D/2 log sigma^2 per pair.
- Patch statistics (Heitz et al. 2021; GPDM, Elnekave & Weiss 2022): a multi-scale sliced Wasserstein
  distance between the patches of frames *decoded from the latent process* (h ~ N(0, I), its next state
  A h + B v) and the patches of real frames; the same on frame differences keeps the motion. No
  pretrained network: random projections of Laplacian-pyramid patches, new ones every step.

Both terms are measured in the units of the reconstruction error (divided by the same variance and
scaled by the pixels of a pair), so a weight of 1 makes a patch-statistics error cost what the same
per-pixel error costs.
"""

import math

import torch
import torch.nn.functional as F

VARIANCE_FLOOR = (2 / 255) ** 2  # one grey level in [-1, 1]: below it, the error is quantisation
OCTAVES = 3  # the statistics' pyramid: band-pass levels 0 (the finest) to 2, and level 3 the low-pass rest
RECIPES = {
    # the paper: a fixed output variance (the preset's sigma_y2), the ELBO alone
    "paper": dict(likelihood="fixed", texture=0.0, motion=0.0, prior=0.0),
    # sharp: the calibrated variance, and the played process's patch and motion statistics, each weighed
    # 16 times a per-pixel error (benchmarks/sharp.py measured 4 and 16, and 64 for motion)
    "sharp": dict(likelihood="learnt", texture=16.0, motion=16.0, prior=0.0),
}


def variance(err_mean, cfg):
    """The per-pixel output variance sigma^2 of a batch: learnt (its mean squared error, floored) or the
    paper's fixed one (its `sigma_y2` divides the summed error, so sigma^2 = sigma_y2 / 2)."""
    if cfg.likelihood == "learnt":
        return err_mean.detach().clamp(min=VARIANCE_FLOOR)
    return torch.tensor(cfg.sigma_y2 / 2, device=err_mean.device)


def reconstruction(err_sum, pixels, var, cfg):
    """-log p(y | h) per item, up to a constant: err_sum (items,) summed squared errors of `pixels` each."""
    if cfg.likelihood == "learnt":
        return (err_sum / (2 * var) + 0.5 * pixels * torch.log(var)).mean()
    return err_sum.mean() / cfg.sigma_y2


def reconstruction_loss(out, target, seen, cfg):
    """(rec, sigma^2): -log p(target | out) per item (N, C, H, W), over the pixels `seen` (a 0/1 mask
    that broadcasts to the frames, or None for all), and the variance it was measured with."""
    err = (out - target) ** 2
    pixels = torch.full((len(err),), float(out[0].numel()), device=err.device)
    if seen is not None:
        err, pixels = err * seen, seen.expand_as(err).sum(dim=(1, 2, 3))
    err_sum = err.sum(dim=(1, 2, 3))
    var = variance(err_sum.sum() / pixels.sum(), cfg)
    return reconstruction(err_sum, pixels, var, cfg), var


def penalty_weight(var, cfg):
    """lam, against the reconstruction term as the paper weighs it: a learnt variance sigma^2 scales the
    reconstruction by sigma_y2 / (2 sigma^2) against the preset's fixed sigma_y2, and the penalty with it."""
    if cfg.likelihood == "learnt":
        return cfg.lam * cfg.sigma_y2 / (2 * var)
    return cfg.lam


def band_pass(x):
    """x minus its 2x-downsampled, upsampled self: the detail of one octave, (N, C, H, W)."""
    return x - F.interpolate(F.avg_pool2d(x, 2), size=x.shape[2:], mode="bilinear", align_corners=False)


def _cells(proj, regions):
    """(N, P, H, W) projected patches -> (P, cells, N * h * w): the positions of each cell of a regions x
    regions grid (H and W cropped to multiples of it), so that patches are compared cell by cell."""
    n, p, h, w = proj.shape
    g = min(regions, h, w)
    h, w = h // g * g, w // g * g
    proj = proj[:, :, :h, :w].reshape(n, p, g, h // g, g, w // g)
    return proj.permute(1, 2, 4, 0, 3, 5).reshape(p, g * g, -1)


def _projected_swd(fake, real, projections, patch, positions, regions):
    """Sliced Wasserstein (squared, per projection) between the size x size patches of two sets, within
    each cell of a regions x regions grid; `positions` patches in all, shared among the cells."""
    size = min(patch, fake.shape[2], fake.shape[3])
    dirs = torch.randn(projections, fake.shape[1], size, size, device=fake.device)
    dirs = dirs / dirs.flatten(1).norm(dim=1)[:, None, None, None]
    pf = _cells(F.conv2d(fake, dirs), regions)  # (P, cells, N * h * w)
    pr = _cells(F.conv2d(real, dirs), regions)
    m = min(max(1, positions // pf.shape[1]), pf.shape[2], pr.shape[2])
    pf = pf[:, :, torch.randint(pf.shape[2], (m,), device=pf.device)]
    pr = pr[:, :, torch.randint(pr.shape[2], (m,), device=pr.device)]
    return ((pf.sort(dim=2)[0] - pr.sort(dim=2)[0]) ** 2).mean()


def patch_swd(fake, real, projections=32, patch=5, levels=OCTAVES, positions=4096, low_pass=True, regions=1,
              regions_from=0):
    """Multi-scale sliced Wasserstein distance between the patch distributions of two frame sets
    (N, C, H, W): a Laplacian pyramid's band-pass octaves (finest first) and its low-pass rest, each
    level's patches onto new random unit directions, sorted and compared; the mean over levels. On
    raw patches alone the coarse intensities of a few frames dominate and blur barely registers;
    without the low-pass rest, coarse flicker goes unseen. `low_pass=False` leaves the rest out:
    the finest `levels` octaves alone. `regions` > 1 compares the patches of each cell of a regions x
    regions grid with the same cell's only: a patch must appear where the real frames show it, which a
    stationary texture allows anywhere and a scene only in its place. Only the levels from `regions_from`
    on (0 the finest octave, `levels` the low-pass rest) are cut into cells: a scene's layout lives in
    the coarse levels, and the fine octaves' detail, compared over the whole frame, keeps all its samples."""
    cells = lambda level: regions if level >= regions_from else 1  # noqa: E731
    total = fake.new_zeros(())
    for level in range(levels):
        total = total + _projected_swd(band_pass(fake), band_pass(real), projections, patch, positions, cells(level))
        fake, real = F.avg_pool2d(fake, 2), F.avg_pool2d(real, 2)
    if not low_pass:
        return total / levels
    total = total + _projected_swd(fake, real, projections, patch, positions, cells(levels))
    return total / (levels + 1)


def prior_mismatch(x):
    """How far the law of a batch of encoded states x (B, d) is from the process's N(0, I): the squared
    distance of its mean from 0 plus the squared Frobenius distance of its covariance from I, each
    estimated without bias as the product of two independent halves of the batch (a batch's own
    squared error would shrink the covariance by about (d + 1) / B). The stationarity penalty makes
    N(0, I) the law the process plays; this makes it the law of the states the decoder learns from."""
    half = len(x) // 2
    if half < 2:
        return x.new_zeros(())
    a, b = x[:half], x[half:2 * half]
    eye = torch.eye(x.shape[1], device=x.device, dtype=x.dtype)
    ma, mb = a.mean(0), b.mean(0)
    ca = (a - ma).T @ (a - ma) / (half - 1) - eye
    cb = (b - mb).T @ (b - mb) / (half - 1) - eye
    return (ma * mb).sum() + (ca * cb).sum()


def prior_term(x, var, cfg):
    """The prior term of a loss: `cfg.prior` times the stationarity penalty's weight times the states'
    prior_mismatch (zero when the weight is 0)."""
    if not cfg.prior:
        return x.new_zeros(())
    return cfg.prior * penalty_weight(var, cfg) * prior_mismatch(x.float())


def process_states(A, B, count):
    """`count` pairs of successive states of the played process: h ~ N(0, I), h' = A h + B v."""
    h1 = torch.randn(count, A.shape[0], device=A.device)
    h2 = h1 @ A.T + torch.randn_like(h1) @ B.T
    return h1, h2


def statistics_terms(fake_pair, real_pair, channels, var, pixels, cfg):
    """The texture term (patches of single frames) and the motion term (patches of the difference of
    successive frames); each (B, 2C, H, W) pairs, the fake ones decoded from the process."""
    c = channels
    scale = 0.5 * pixels / var  # in the units of the reconstruction term
    texture = motion = var.new_zeros(())
    cells = {"regions": cfg.regions, "regions_from": cfg.regions_from}

    def finest(levels):  # the pyramid levels a term compares: its finest octaves, with the low-pass rest or not
        return {"levels": min(levels, OCTAVES), "low_pass": levels > OCTAVES, **cells}
    if cfg.texture:
        fake = torch.cat([fake_pair[:, :c], fake_pair[:, c:]])
        real = torch.cat([real_pair[:, :c], real_pair[:, c:]])
        texture = cfg.texture * scale * patch_swd(fake, real, **finest(cfg.levels))
    if cfg.motion:
        fake_motion, real_motion = fake_pair[:, c:] - fake_pair[:, :c], real_pair[:, c:] - real_pair[:, :c]
        motion = cfg.motion * scale * patch_swd(fake_motion, real_motion, **finest(cfg.motion_levels))
    return texture, motion


def process_batch(batch):
    """How many process pairs a step decodes beside a batch of `batch` pairs: a quarter, at least 8."""
    return max(8, math.ceil(batch / 4))
