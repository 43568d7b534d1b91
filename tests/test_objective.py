"""The sharp recipe's terms (dvtex.train.objective) on known cases, and the recipe end to end: trained,
checkpointed with what it learnt, exported with it in the metadata, resumed only as itself."""

import json

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from dvtex.train.checkpoint import load_checkpoint, save_checkpoint
from dvtex.train.model import DVAEConfig
from dvtex.train.objective import (VARIANCE_FLOOR, band_pass, patch_swd, penalty_weight, prior_mismatch, reconstruction,
                                   statistics_terms, variance)
from dvtex.train.textures import simulate

from conftest import assert_user_error, run_module


def simulated(name, count, seed):
    frames = simulate(name, count, 64, seed=seed)  # (T, H, W, 3) uint8
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1


def fire_frames(count, seed):
    return simulated("fire", count, seed)


def blurred(x, passes=3):
    kernel = torch.ones(x.shape[1], 1, 3, 3) / 9
    for _ in range(passes):
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
    return x


def mean_swd(a, b, **kw):
    return np.mean([patch_swd(a, b, **kw).item() for _ in range(5)])


def test_patch_swd_sees_blur_and_coarse_change_beyond_the_spread_of_real_frames():
    torch.manual_seed(0)
    a, b = fire_frames(24, seed=1), fire_frames(24, seed=2)
    detail = lambda x, y: mean_swd(band_pass(x), band_pass(y), levels=1)  # noqa: E731  the finest octave alone
    assert detail(a, a) < detail(a, b) and detail(a, blurred(b)) > 2 * detail(a, b)  # a soft texture is far
    same_kind = mean_swd(a, b)
    assert mean_swd(a, a) < same_kind
    assert mean_swd(a, 0.3 * b) > 3 * same_kind  # dimmed frames: the low-pass level sees coarse change
    # (summed over levels, the low-pass level's noise on 24 frames is as large as what blur adds to the
    # octaves: README says so beside the ablation)


def test_patch_swd_without_the_low_pass_rest_sees_only_the_finest_octaves():
    a, b = fire_frames(24, seed=1), fire_frames(24, seed=2)

    def fine(x, y):
        torch.manual_seed(0)  # the same directions each time
        return mean_swd(x, y, levels=2, low_pass=False)

    assert fine(a, b + 0.5) == pytest.approx(fine(a, b), rel=1e-3)  # a shift in brightness is coarse: unseen
    assert mean_swd(a, b + 0.5) > 3 * mean_swd(a, b)  # the low-pass rest sees it
    assert fine(a, blurred(b)) > 2 * fine(a, b)  # the octaves still see blur


def test_patch_swd_by_regions_sees_a_scene_moved_out_of_place():
    def scene(seed):  # fire on the left, water on the right
        return torch.cat([fire_frames(24, seed)[..., :32], simulated("water", 24, seed)[..., 32:]], dim=3)

    torch.manual_seed(0)
    a, b = scene(1), scene(2)
    moved = b.roll(32, dims=3)  # water on the left: the same patches, out of place
    fine = lambda x, y, regions: mean_swd(x, y, levels=2, low_pass=False, regions=regions)  # noqa: E731
    assert fine(a, moved, 1) < 3 * fine(a, b, 1)  # the whole frame's octaves see only the seams
    assert fine(a, moved, 4) > 5 * fine(a, b, 4)  # cell by cell, every patch is in the wrong place
    assert fine(a, b, 4) < fine(a, blurred(b), 4)  # and the cells still see blur


def test_regions_from_cuts_only_the_coarse_levels_into_cells():
    def scene(seed):  # fire on the left, water on the right
        return torch.cat([fire_frames(24, seed)[..., :32], simulated("water", 24, seed)[..., 32:]], dim=3)

    a, moved = scene(1), scene(2).roll(32, dims=3)

    def swd(regions, regions_from, low_pass=False):
        torch.manual_seed(0)  # the same directions and positions each time
        return patch_swd(a, moved, levels=2, low_pass=low_pass, regions=regions, regions_from=regions_from).item()

    assert swd(4, 2) == swd(1, 0)  # both octaves finer than level 2: compared over the whole frame
    assert swd(4, 1) > 2 * swd(1, 0)  # the second octave cut into cells sees the halves swapped
    assert swd(4, 2, low_pass=True) > swd(1, 0, low_pass=True)  # the low-pass rest, level 2, is cut
    assert swd(4, 0) > swd(4, 1)  # and every level cut sees more


def test_levels_leave_the_coarse_layout_out_of_the_terms():
    """--levels 2 --motion-levels 2: the texture and motion terms compare the two finest octaves alone,
    so a change of brightness, coarse, costs nothing there and much with every level; blur still costs.
    Each option narrows its own term."""
    a, b = fire_frames(24, seed=1), fire_frames(24, seed=2)
    pair = lambda x: torch.cat([x[:12], x[12:]], dim=1)  # noqa: E731  12 pairs (B, 2C, H, W)
    ramp = torch.linspace(0, 1, 64)[None, None, None, :]  # a change of brightness over the frame, and over time
    brighter = torch.cat([b[:12], b[12:] + 0.6 * ramp], dim=1)

    def terms(fake, levels, motion_levels=None):
        torch.manual_seed(0)  # the same directions and positions each time
        cfg = DVAEConfig(size=64, layers=5, width=16, texture=1.0, motion=1.0, levels=levels,
                         motion_levels=motion_levels or levels)
        return [t.item() for t in statistics_terms(fake, pair(a), 3, torch.tensor(1.0), 1.0, cfg)]

    same, shifted, soft = terms(pair(b), 2), terms(brighter, 2), terms(pair(blurred(b)), 2)
    assert shifted == pytest.approx(same, rel=0.05)  # texture and motion alike: the ramp is coarse
    assert soft[0] > 2 * same[0]
    every_level_same, every_level_shifted = terms(pair(b), 4), terms(brighter, 4)
    assert every_level_shifted[0] > 3 * every_level_same[0] and every_level_shifted[1] > 3 * every_level_same[1]
    texture_fine_same, texture_fine_shifted = terms(pair(b), 2, 4), terms(brighter, 2, 4)
    assert texture_fine_shifted[0] == pytest.approx(texture_fine_same[0], rel=0.05)  # the texture term blind
    assert texture_fine_shifted[1] > 3 * texture_fine_same[1]  # the motion term sees the flicker


def test_the_learnt_variance_is_the_likelihoods_optimum():
    cfg = DVAEConfig(size=32, layers=4, width=8, likelihood="learnt")
    err = torch.rand(16, 100) ** 2  # squared errors of 16 items, 100 pixels each
    pixels = torch.full((16,), 100.0)
    best = variance(err.mean(), cfg)
    assert best.item() == pytest.approx(err.mean().item())
    nll = lambda v: reconstruction(err.sum(1), pixels, torch.tensor(v), cfg).item()  # noqa: E731
    assert nll(best.item()) < min(nll(best.item() * 0.7), nll(best.item() * 1.4))
    assert variance(torch.tensor(0.0), cfg).item() == pytest.approx(VARIANCE_FLOOR)  # a perfect batch: no division by 0
    fixed = DVAEConfig(size=32, layers=4, width=8, sigma_y2=10.0)
    assert variance(err.mean(), fixed).item() == 5.0 and reconstruction(err.sum(1), pixels, None, fixed) == \
        pytest.approx(err.sum(1).mean().item() / 10)


def test_the_penalty_keeps_the_papers_weight_against_the_reconstruction():
    paper = DVAEConfig(size=32, layers=4, width=8, sigma_y2=10.0, lam=100.0)
    learnt = DVAEConfig(size=32, layers=4, width=8, sigma_y2=10.0, lam=100.0, likelihood="learnt")
    assert penalty_weight(torch.tensor(5.0), paper) == 100.0
    assert penalty_weight(torch.tensor(5.0), learnt).item() == pytest.approx(100.0)  # sigma^2 = sigma_y2 / 2
    assert penalty_weight(torch.tensor(0.05), learnt).item() == pytest.approx(10000.0)


def test_prior_mismatch_is_an_unbiased_distance_from_the_standard_normal():
    torch.manual_seed(0)
    d = 20
    # unbiased: small batches of N(0, I) states score 0 on average, where a batch's own covariance
    # error would average about d (d + 1) / B
    small = torch.stack([prior_mismatch(torch.randn(16, d)) for _ in range(2000)])
    assert abs(small.mean().item()) < 0.3 < small.std().item()
    big = torch.randn(8192, d)
    assert abs(prior_mismatch(big).item()) < 0.2
    assert prior_mismatch(big + 3).item() == pytest.approx(9 * d, rel=0.05)  # the mean's squared distance
    assert prior_mismatch(2 * big).item() == pytest.approx(9 * d, rel=0.1)  # covariance 4 I: (4 - 1)^2 per dimension
    assert prior_mismatch(torch.randn(3, d)).item() == 0.0  # too few to split in two halves


def test_the_prior_term_pulls_the_encoded_states_towards_the_process_law():
    from dvtex.train.model import DVAE

    torch.manual_seed(0)
    cfg = dict(size=32, layers=4, width=8, channels=3, likelihood="learnt")
    y = torch.rand(32, 6, 32, 32) * 2 - 1
    grads = []
    for prior in (0.0, 1.0):
        torch.manual_seed(1)
        model = DVAE(DVAEConfig(**cfg, prior=prior))
        with torch.no_grad():
            model.encoder.conv_last.bias.add_(3.0)  # every state's mean 3 from the process's 0
        model(y)["loss"].backward()
        grads.append(model.encoder.conv_last.bias.grad[:20].mean().item())
    assert grads[1] > grads[0] + 1.0  # descending it lowers the means: much more so with the term


def sharp_config(tmp_path, **over):
    from dvtex.train import TrainConfig

    return TrainConfig(**{"sources": ["procedural:fire:40"], "output": str(tmp_path / "sharp.pt"), "preset": "mnist32",
                          "width": 8, "batch": 8, "steps": 6, "preview_every": 0, "recipe": "sharp", **over})


def exported_metadata(checkpoint, out):
    """dvtex-export CHECKPOINT -o OUT, and the .onnx file's metadata, each value read back from JSON."""
    proc = run_module("dvtex.export", checkpoint, "-o", out)
    assert proc.returncode == 0, proc.stderr
    return {p.key: json.loads(p.value) for p in onnx.load(str(out)).metadata_props}


@pytest.mark.parametrize("method", ["dvae", "vae+var"])
def test_sharp_recipe_trains_and_exports_what_it_learnt(tmp_path, method):
    from dvtex.train import train

    config = sharp_config(tmp_path, method=method)
    ckpt = train(config)
    cfg = ckpt["config"]
    assert (cfg["likelihood"], cfg["texture"], cfg["motion"]) == ("learnt", 16.0, 16.0)
    assert ckpt["train_config"]["recipe"] == "sharp" and ckpt["train_config"]["sigma_y2"] is None
    sigma2 = ckpt["model"]["sigma2"].item()
    assert VARIANCE_FLOOR <= sigma2 < 1.0  # the running variance of what it reconstructs, in [-1, 1] units
    assert np.isfinite([row[1] for row in ckpt["history"]]).all()
    meta = exported_metadata(config.output, tmp_path / "sharp.onnx")
    assert meta["dvtex.likelihood"] == "learnt" and meta["dvtex.texture"] == 16.0
    assert meta["dvtex.sigma_y2"] == pytest.approx(2 * sigma2, rel=1e-6)


def test_statistics_terms_move_the_decoder_of_the_process():
    """With only the texture term (no reconstruction to speak of), frames decoded from the process change."""
    from dvtex.train.model import DVAE

    torch.manual_seed(0)
    model = DVAE(DVAEConfig(size=32, layers=4, width=8, channels=3, texture=1.0, motion=1.0, likelihood="learnt"))
    y = torch.rand(8, 6, 32, 32) * 2 - 1
    terms = model(y)
    assert terms["texture"].item() > 0
    terms["texture"].backward()
    assert model.decoder.deconv_first.weight.grad.abs().sum() > 0 and model.A.grad.abs().sum() > 0


@pytest.mark.parametrize("given", [{"prior": 0.1}, {"regions": 2}, {"regions": 2, "regions_from": 2},
                                   {"levels": 2}, {"levels": 2, "motion_levels": 3}])
def test_a_prior_weight_or_regions_given_is_trained_with_and_recorded(tmp_path, given):
    from dvtex.train import train

    ckpt = train(sharp_config(tmp_path, steps=2, **given))
    meta = exported_metadata(sharp_config(tmp_path).output, tmp_path / "p.onnx")
    for name, value in given.items():
        assert ckpt["config"][name] == value and ckpt["train_config"][name] == value
        assert meta[f"dvtex.{name}"] == value


def test_statistics_from_leaves_the_terms_out_of_the_steps_before_it(tmp_path):
    """--statistics-from 2: the first two steps' loss is the ELBO and the penalty alone, the later ones add
    the statistics terms; the step is recorded in the checkpoint and the .onnx metadata."""
    from dvtex.train import train

    ckpt = train(sharp_config(tmp_path, sigma_y2=2.0, steps=4, statistics_from=2))
    lam = ckpt["config"]["lam"]
    statistics = [loss - rec - kl - lam * stat for _, loss, rec, kl, stat in ckpt["history"]]
    assert statistics[:2] == pytest.approx([0, 0], abs=1e-3) and min(statistics[2:]) > 1.0
    assert ckpt["train_config"]["statistics_from"] == 2
    meta = exported_metadata(sharp_config(tmp_path).output, tmp_path / "late.onnx")
    assert meta["dvtex.statistics_from"] == 2


def test_a_sigma_y2_given_fixes_the_variance_of_the_sharp_recipe(tmp_path):
    from dvtex.train import train

    ckpt = train(sharp_config(tmp_path, sigma_y2=2.0, steps=2))
    assert ckpt["config"]["likelihood"] == "fixed" and ckpt["config"]["sigma_y2"] == 2.0
    assert "sigma2" not in ckpt["model"] and ckpt["config"]["texture"] == 16.0


def test_checkpoints_from_before_the_recipe_load_as_the_paper_recipe(tmp_path):
    """A format-2 checkpoint written before `recipe`, `likelihood`, `texture`, `motion` existed."""
    from dvtex.train import train

    config = sharp_config(tmp_path, recipe="paper", steps=2)
    ckpt = train(config)
    for key, gone in (("config", ("likelihood", "texture", "motion")), ("train_config", ("recipe", "texture", "motion"))):
        ckpt[key] = {k: v for k, v in ckpt[key].items() if k not in gone}
    save_checkpoint(ckpt, config.output)
    loaded = load_checkpoint(config.output)
    assert loaded["config"]["likelihood"] == "fixed" and loaded["train_config"]["recipe"] == "paper"
    assert run_module("dvtex.export", config.output).returncode == 0


def test_resume_refuses_another_recipe(tmp_path):
    out = tmp_path / "m.pt"
    tiny = ["procedural:water:40", "--preset", "mnist32", "--width", "8", "--batch", "8", "--preview-every", "0"]
    assert run_module("dvtex.train", *tiny, "-o", out, "--steps", "2", "--recipe", "sharp").returncode == 0
    before = out.read_bytes()
    assert_user_error(run_module("dvtex.train", *tiny, "-o", out, "--resume", "--steps", "4", "--recipe", "paper"),
                      "--recipe sharp")
    assert_user_error(run_module("dvtex.train", *tiny, "-o", out, "--resume", "--steps", "4", "--texture", "3"),
                      "--texture")
    assert out.read_bytes() == before
