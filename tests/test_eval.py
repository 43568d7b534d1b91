"""dvtex-eval on tiny budgets: every task runs end to end, writes its JSON and contact sheets."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from conftest import assert_user_error, run_module

TINY = ["--preset", "mnist32", "--width", "8", "--steps", "3", "--long-run", "300"]


def test_textures_compares_three_methods_per_source(tmp_path):
    out, report = tmp_path / "eval", tmp_path / "textures.json"
    proc = run_module("dvtex.eval", "textures", "procedural:water:30", "procedural:lights:30", *TINY,
                      "--fid-frames", "0", "--out", out, "--json", report, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(report.read_text())
    assert result["task"] == "textures" and "cores" in result["hardware"] and result["seed"] == 0
    assert result["steps_per_network"] == 3
    facts = {f["source"]: f for f in result["sources"]}
    assert facts["procedural-water-30"]["frames"] == 30 and 0 < facts["procedural-lights-30"]["pca10_variance"] <= 1
    rows = result["methods"]
    assert [(r["source"], r["method"]) for r in rows] == [
        (s, m) for s in ("procedural-water-30", "procedural-lights-30") for m in ("lds", "vae+var", "dvae")]
    for r in rows:
        assert r["swd"] > 0 and r["temporal_lsd_db"] >= 0 and r["copy_ratio"] > 0
        assert r["fid"] is None  # --fid-frames 0
        assert r["steps"] == (0 if r["method"] == "lds" else 3)
        assert r["stabilized"] == (r["method"] == "dvae")  # the baselines are exactly stationary by construction
    sheet = Image.open(out / "procedural-water-30.png")
    assert sheet.height == 4 * 96  # training | LDS | VAE+VAR | DVAE, 32-pixel frames shown at 96
    assert "FID per method per sequence" in proc.stderr
    for method in ("lds", "vae_var", "dvae"):  # the trained models stay, ready for dvtex-export
        assert (out / f"procedural-water-30-{method}.pt").is_file()


@pytest.mark.slow
def test_digits_reports_order_accuracy_readability_and_fid(tmp_path):
    report = tmp_path / "digits.json"
    proc = run_module("dvtex.eval", "digits", "--width", "8", "--steps", "150", "--seeds", "2", "--frames", "20",
                      "--fid-frames", "16", "--snapshot-every", "0.0001", "--out", tmp_path, "--json", report, timeout=900)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(report.read_text())
    assert 0.97 <= result["judge_accuracy"] <= 1.0
    by_method = {r["method"]: r for r in result["methods"]}
    assert set(by_method) == {"dvae", "vae+var", "lds"}
    for r in by_method.values():
        assert 0.0 <= r["order_accuracy"] <= 1.0 and 0.0 < r["readability"] <= 1.0
        assert len(r["order_accuracy_per_seed"]) == 2 and len(r["labels_seed0"]) == 20
        assert r["fid"] is None or r["fid"] > 0
    assert (tmp_path / "digits.png").is_file()
    curve = result["dvae_by_minutes"]  # judged snapshots on the way, then the final model
    # checkpoints every 50 steps, each more than 6 ms apart: snapshots at 50 and 100, then the final model
    assert [c["steps"] for c in curve] == [50, 100, 150] and by_method["dvae"]["steps"] == 150
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["digits-dvae.pt", "digits-lds.pt", "digits-vae_var.pt"]


def test_incomplete_scores_masked_and_full_training_on_full_frames(tmp_path):
    report = tmp_path / "incomplete.json"
    proc = run_module("dvtex.eval", "incomplete", "procedural:fire:30", "--mask", "rect:0.5", *TINY,
                      "--fid-frames", "0", "--out", tmp_path, "--json", report, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(report.read_text())
    assert result["mask"] == "rect:0.5"
    assert [r["method"] for r in result["methods"]] == ["dvae-masked", "dvae-full"]
    import torch

    masked = torch.load(tmp_path / "procedural-fire-30-dvae-masked-rect0.5.pt", weights_only=True)
    assert masked["config"]["masked"] and masked["train_config"]["mask"] == "rect:0.5"
    assert (tmp_path / "procedural-fire-30-rect0.5.png").is_file()
    # another mask in the same folder: the full model is reused, the masked one is that mask's own
    other = run_module("dvtex.eval", "incomplete", "procedural:fire:30", "--mask", "saltpepper:0.5", *TINY,
                       "--fid-frames", "0", "--out", tmp_path, "--reuse", timeout=600)
    assert other.returncode == 0, other.stderr
    assert other.stderr.count("reusing") == 1 and "reusing " + str(tmp_path / "procedural-fire-30-dvae-full.pt") in other.stderr
    masked = torch.load(tmp_path / "procedural-fire-30-dvae-masked-saltpepper0.5.pt", weights_only=True)
    assert masked["train_config"]["mask"] == "saltpepper:0.5"
    assert (tmp_path / "procedural-fire-30-dvae-masked-rect0.5.pt").is_file()


@pytest.mark.parametrize("argv, fragment", [
    (["textures"], "needs at least one SOURCE"),
    (["digits", "procedural:fire"], "digits takes no SOURCE"),
    (["incomplete", "procedural:fire"], "needs --mask"),
    (["textures", "no/such/clip.mp4", "--steps", "1"], "no/such/clip.mp4"),
    (["textures", "procedural:fire", "--sigma-y2", "0"], "--sigma-y2: must be positive"),
    (["textures", "procedural:fire", "--recipe", "crisp"], "--recipe"),
    (["textures", "procedural:fire", "--play-seeds", "0"], "--play-seeds: must be at least 1"),
    (["digits", "--play-seeds", "3"], "digits takes no --play-seeds"),
])
def test_bad_usage_is_one_line_and_status_2(argv, fragment):
    assert_user_error(run_module("dvtex.eval", *argv), fragment)


def test_reuse_scores_finished_models_again_without_training(tmp_path):
    argv = ["textures", "procedural:water:30", *TINY, "--fid-frames", "0", "--out", tmp_path]
    first = run_module("dvtex.eval", *argv, "--json", tmp_path / "a.json")
    assert first.returncode == 0, first.stderr
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.pt")}
    again = run_module("dvtex.eval", *argv, "--reuse", "--json", tmp_path / "b.json")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("reusing") == 3 and "training" not in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.pt")} == stamps
    a, b = (json.loads((tmp_path / n).read_text())["methods"] for n in ("a.json", "b.json"))
    assert [r["swd"] for r in a] == [r["swd"] for r in b]  # the same models, scored the same way
    longer = run_module("dvtex.eval", "textures", "procedural:water:30", "--preset", "mnist32", "--width", "8",
                        "--steps", "5", "--long-run", "300", "--fid-frames", "0", "--out", tmp_path, "--reuse")
    assert longer.returncode == 0 and longer.stderr.count("reusing") == 1  # only the LDS: 3 steps < 5
    wider = run_module("dvtex.eval", "textures", "procedural:water:30", *TINY, "--width", "16", "--fid-frames", "0",
                       "--out", tmp_path, "--reuse")
    assert wider.returncode == 0 and "reusing" not in wider.stderr  # another recipe: every model trained again
    sharper = run_module("dvtex.eval", "textures", "procedural:water:30", *TINY, "--width", "16", "--sigma-y2", "2",
                         "--fid-frames", "0", "--out", tmp_path, "--reuse")
    assert sharper.returncode == 0 and sharper.stderr.count("reusing") == 1  # only the LDS: no sigma_y2 of its own


@pytest.mark.slow
def test_digits_reuse_reports_the_reused_models(tmp_path):
    argv = ["digits", "--width", "8", "--steps", "3", "--seeds", "1", "--frames", "10", "--fid-frames", "0", "--out", tmp_path]
    assert run_module("dvtex.eval", *argv).returncode == 0
    again = run_module("dvtex.eval", *argv, "--reuse", "--json", tmp_path / "d.json")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("reusing") == 3 and "reused" in again.stderr
    curve = json.loads((tmp_path / "d.json").read_text())["dvae_by_minutes"]
    assert curve == [{**curve[0], "minutes": None, "steps": 3}]


def test_runner_reuses_by_recipe_and_snapshots_through_the_callback(tmp_path):
    """In process, on the new API: a 5-step DVAE, its snapshots, and what --reuse keeps."""
    from dataclasses import replace

    from dvtex.eval.runner import eval_config, reusable, train_model

    logged = []
    config = eval_config("dvae", str(tmp_path / "m.pt"), {"steps": 100}, 0, sources=["procedural:water:30"],
                         preset="mnist32", width=8, batch=8)
    ckpt, snaps = train_model(config, logged.append, snapshot_every=1e-9)
    assert ckpt["step"] == 100 and ckpt["train_seconds"] > 0
    assert [s["step"] for _, s in snaps] == [50, 100]  # a checkpoint every 50 steps while snapshotting
    assert reusable(ckpt, config) and not reusable(ckpt, replace(config, steps=101))
    assert not reusable(ckpt, replace(config, sigma_y2=2.0)) and not reusable(ckpt, replace(config, seed=1))
    constant = eval_config("dvae", config.output, {"steps": 100}, 0, "constant", sources=["procedural:water:30"],
                           preset="mnist32", width=8, batch=8)
    assert config.cosine == 0 and constant.cosine is None  # --schedule: a half cosine, or constant rates
    assert not reusable(ckpt, constant)  # a model trained on the cosine is not the constant-rate one
    lds = eval_config("lds", str(tmp_path / "l.pt"), {"steps": 100}, 0, sources=["procedural:water:30"],
                      preset="mnist32", width=8)
    fitted, _ = train_model(lds, logged.append)
    assert reusable(fitted, replace(lds, steps=5000, sigma_y2=2.0))  # closed form: no budget, no sigma_y2
    again, snaps = train_model(config, logged.append, reuse=True)
    assert again["train_seconds"] is None and snaps == [] and "reusing" in logged[-1]


def test_hardware_names_the_simd_level_and_a_restriction_of_torchs_kernels():
    from dvtex.hardware import simd_level

    assert simd_level({"avx", "avx2", "fma"}) == "AVX2" and simd_level({"avx2", "avx512f"}) == "AVX-512"
    assert simd_level({"avx512f", "amx_tile"}) == "AMX" and simd_level(set()) == "unknown"
    probe = "import torch; from dvtex.hardware import hardware; print(hardware())"
    native = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert f"({simd_level()})" in native and "kernels" not in native
    if simd_level() in ("AVX-512", "AMX"):  # a laptop's kernels on this machine: the figure must say so
        env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
        held = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env).stdout
        assert held.strip().endswith("AVX2 kernels")


def test_digits_learn_at_constant_rates_and_textures_on_the_cosine_unless_told():
    from dvtex.eval.cli import parse_args

    assert parse_args(["digits", "--steps", "10"]).schedule == "constant"  # 91.1% in 10,000 steps (README)
    assert parse_args(["textures", "procedural:fire", "--steps", "10"]).schedule == "cosine"  # the tables' recipe
    assert parse_args(["digits", "--steps", "10", "--schedule", "cosine"]).schedule == "cosine"


def test_mean_scores_average_the_played_runs_and_give_kids_spread():
    from dvtex.eval.tasks import mean_scores

    one = {"kid": 0.2, "swd": 50.0, "fid": None}
    assert mean_scores([one]) == one  # one run: its own scores, nothing added
    runs = [{"kid": 0.1, "swd": 40.0, "fid": None}, {"kid": 0.3, "swd": 60.0, "fid": None}]
    scores = mean_scores(runs)
    assert scores["kid"] == pytest.approx(0.2) and scores["swd"] == pytest.approx(50.0) and scores["fid"] is None
    assert scores["kid_plays"] == [0.1, 0.3] and scores["kid_plays_sd"] == pytest.approx(0.1 * 2 ** 0.5)
    assert "kid_plays" not in mean_scores([{"kid": None}, {"kid": None}])  # no Inception weights: no spread


def test_play_seeds_score_the_same_models_on_more_runs(tmp_path):
    argv = ["textures", "procedural:lights:30", *TINY, "--fid-frames", "0", "--out", tmp_path]
    result = {}
    for name, extra in (("one", []), ("three", ["--reuse", "--play-seeds", "3"])):
        proc = run_module("dvtex.eval", *argv, *extra, "--json", tmp_path / f"{name}.json")
        assert proc.returncode == 0, proc.stderr
        result[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["one"]["play_seeds"] == [0] and result["three"]["play_seeds"] == [0, 1, 2]
    assert [r["method"] for r in result["three"]["methods"]] == [r["method"] for r in result["one"]["methods"]]
    assert result["one"]["methods"][0]["swd"] != result["three"]["methods"][0]["swd"]  # the LDS's runs differ


def test_scores_over_played_runs_are_the_mean_of_each_runs(tmp_path):
    import types

    from dvtex.eval.runner import eval_config
    from dvtex.eval.tasks import score_methods
    from dvtex.train.data import load_sequences

    spec = "procedural:lights:30"
    real = load_sequences([spec], 32, seed=0)[0].frames
    configs = {"lds": eval_config("lds", str(tmp_path / "lds.pt"), {"steps": 1}, 0, sources=[spec], preset="mnist32")}

    def scores(seed, play_seeds):
        run = types.SimpleNamespace(fid_frames=0, reuse=True, seed=seed, long_run=300, out=str(tmp_path),
                                    play_seeds=play_seeds)
        return score_methods("lights", configs, real, run, lambda msg: None)[0]

    first, second, both = scores(0, 1), scores(1, 1), scores(0, 2)
    assert first["swd"] != second["swd"]
    for key in ("swd", "temporal_lsd_db", "motion_ratio", "copy_ratio"):
        assert both[key] == pytest.approx((first[key] + second[key]) / 2)
