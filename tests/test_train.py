import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import dvtex
from dvtex.train.checkpoint import build_model, load_checkpoint
from dvtex.train.loop import PACE_STEPS
from dvtex.train.synthesis import played_path

from conftest import ROOT, assert_user_error, last_line_is_the_error, run_module

TINY = ["procedural:water:40", "--preset", "mnist32", "--width", "8", "--batch", "8"]


def train(out, *extra):
    proc = run_module("dvtex.train", *TINY, "-o", out, *extra)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_checkpoint_rebuilds_the_model_alone_and_synthesises(tmp_path):
    out = tmp_path / "m.pt"
    proc = train(out, "--steps", "12", "--preview-every", "6")
    assert "rho(A)" in proc.stderr and "pairs/s" in proc.stderr
    ckpt = torch.load(out, weights_only=True)  # no unpickling of code
    assert ckpt["step"] == 12 and ckpt["fps"] == 24.0 and ckpt["data"][0]["frames"] == 40
    assert ckpt["h0"].shape == (16, 10) and len(ckpt["history"]) == 12
    model = build_model(ckpt)
    assert model.cfg.channels == 3 and model.cfg.width == 8
    frames = dvtex.synthesize(str(out), 20, seed=3)
    assert frames.shape == (20, 32, 32, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames, dvtex.synthesize(ckpt, 20, seed=3))
    assert not np.array_equal(frames, dvtex.synthesize(model, 20, seed=4))
    assert (tmp_path / "m.preview.png").exists()
    with torch.no_grad():  # a learnt pair that is not stationary is synthesised as dvtex-export plays it
        model.A.copy_(1.01 * torch.eye(10))
        model.B.zero_()
    h = played_path(model, np.ones(10), 2000, seed=0)
    assert np.abs(h).max() < 6  # stationary N(0, I); the learnt pair would reach 1.01^2000 = 4e8


def test_resume_gives_the_same_losses_as_one_run(tmp_path):
    straight, split = tmp_path / "straight.pt", tmp_path / "split.pt"
    train(straight, "--steps", "8", "--save-every", "100")
    train(split, "--steps", "4", "--save-every", "100")
    train(split, "--steps", "8", "--resume")
    a, b = load_checkpoint(str(straight)), load_checkpoint(str(split))
    assert b["step"] == 8
    np.testing.assert_array_equal(np.array(a["history"]), np.array(b["history"]))
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


def test_cosine_without_n_decays_over_the_whole_budget(tmp_path):
    from dvtex.train.loop import cosine_factor

    steps_run = tmp_path / "steps.pt"
    train(steps_run, "--steps", "10", "--cosine")
    ckpt = load_checkpoint(str(steps_run))
    assert ckpt["cosine_steps"] == 10 and ckpt["train_config"]["cosine"] == 0
    groups = ckpt["optimizer"]["param_groups"]  # rates set before the last step (step 9 of 10)
    assert groups[0]["lr"] == pytest.approx(1e-3 * cosine_factor(9, 10))
    assert groups[1]["lr"] == pytest.approx(1e-2 * cosine_factor(9, 10))


def test_cosine_over_minutes_plans_its_steps_from_the_first_steps_pace(tmp_path, monkeypatch, capsys):
    """A fake clock, 10 ms a reading: the budget is machine-independent, and so is the plan."""
    import dvtex.train.loop as loop
    from dvtex.train import TrainConfig, train

    ticks = iter(range(10**9))
    monkeypatch.setattr(loop, "clock", lambda: next(ticks) * 0.01)
    out = tmp_path / "minutes.pt"
    ckpt = train(TrainConfig(sources=["procedural:water:40"], output=str(out), preset="mnist32", width=8, batch=8,
                             minutes=0.2, cosine=0, preview_every=0))
    planned = ckpt["cosine_steps"]
    assert f"about {planned} steps in the budget" in capsys.readouterr().err
    assert planned > PACE_STEPS and ckpt["step"] == pytest.approx(planned, rel=0.05)  # the plan met the budget
    assert load_checkpoint(str(out))["cosine_steps"] == planned  # kept for --resume


def test_a_steps_budget_says_early_how_long_the_rest_takes_at_the_measured_pace(tmp_path, monkeypatch, capsys):
    import re

    import dvtex.train.loop as loop
    from dvtex.train import TrainConfig, train

    ticks = iter(range(10**9))
    monkeypatch.setattr(loop, "clock", lambda: next(ticks) * 5.0)  # a slow machine: seconds a step
    train(TrainConfig(sources=["procedural:water:40"], output=str(tmp_path / "m.pt"), preset="mnist32", width=8,
                      batch=8, steps=PACE_STEPS + 30, preview_every=0))
    said = re.search(r"([0-9.]+) steps/s over the first (\d+) steps here: the 30 left take about ([0-9.]+) minutes",
                     capsys.readouterr().err)
    assert said and int(said[2]) == PACE_STEPS
    assert float(said[3]) == pytest.approx(30 / float(said[1]) / 60, rel=0.1)  # both figures are rounded


def test_existing_model_is_not_overwritten_without_resume(tmp_path):
    out = tmp_path / "m.pt"
    train(out, "--steps", "2")
    before = out.read_bytes()
    assert_user_error(run_module("dvtex.train", *TINY, "-o", out, "--steps", "4"), "--resume")
    assert out.read_bytes() == before
    assert_user_error(run_module("dvtex.train", "procedural:fire:40", "-o", out, "--resume"), "same sources")


def test_a_diverging_run_stops_with_one_line_and_keeps_its_last_finite_checkpoint(tmp_path):
    out = tmp_path / "m.pt"
    # Adam moves every weight by about lr: at 100 the second step's loss is not finite
    proc = run_module("dvtex.train", *TINY, "-o", out, "--steps", "20", "--save-every", "1", "--lr", "1e2")
    last_line_is_the_error(proc, "diverged at step 2", "keeps the checkpoint of step 1", "lower --lr (now 100)")
    ckpt = load_checkpoint(str(out))
    assert ckpt["step"] == 1 and all(torch.isfinite(v).all() for v in ckpt["model"].values())
    proc = run_module("dvtex.train", *TINY, "-o", out, "--steps", "20", "--save-every", "10", "--lr", "1e2", "--resume")
    last_line_is_the_error(proc, "diverged at step 2", "keeps the checkpoint of step 1")  # the one resumed
    proc = run_module("dvtex.train", *TINY, "-o", tmp_path / "n.pt", "--steps", "20", "--lr", "1e30")
    last_line_is_the_error(proc, "diverged at step 2", "nothing was saved")
    assert not (tmp_path / "n.pt").exists()
    # at 1e6 the first step's weights are finite but the encoder's states overflow: not saved either
    proc = run_module("dvtex.train", *TINY, "-o", tmp_path / "o.pt", "--steps", "20", "--save-every", "1", "--lr", "1e6")
    last_line_is_the_error(proc, "diverged by step 1", "initial states are not finite", "nothing was saved")
    assert not (tmp_path / "o.pt").exists()


def test_corrupt_checkpoint_is_refused(tmp_path):
    out = tmp_path / "m.pt"
    train(out, "--steps", "2")
    out.write_bytes(out.read_bytes()[:1000])
    assert_user_error(run_module("dvtex.train", *TINY, "-o", out, "--resume"), "not a readable dvtex checkpoint")


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_output_variance_must_be_positive(tmp_path, value):
    out = tmp_path / "m.pt"
    assert_user_error(run_module("dvtex.train", *TINY, "-o", out, "--sigma-y2", value), "--sigma-y2: must be positive")
    assert not out.exists()


def _start(out, *extra):
    env = {**os.environ, "DVTEX_THREADS": "2"}
    return subprocess.Popen([sys.executable, "-m", "dvtex.train", *TINY, "-o", str(out), *extra], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc, timeout=120):
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < end, proc.stderr.read() if proc.poll() is not None else "timeout"
        time.sleep(0.2)


def test_sigkill_leaves_a_checkpoint_that_resumes(tmp_path):
    out = tmp_path / "m.pt"
    proc = _start(out, "--steps", "100000", "--save-every", "3", "--preview-every", "0")
    _wait_for(out, proc)
    time.sleep(1.0)  # let it overwrite the checkpoint a few times
    proc.kill()
    proc.wait()
    step = load_checkpoint(str(out))["step"]
    assert step >= 3
    train(out, "--steps", str(step + 3), "--resume")
    assert load_checkpoint(str(out))["step"] == step + 3


def test_sigterm_saves_and_says_how_to_resume(tmp_path):
    out = tmp_path / "m.pt"
    proc = _start(out, "--steps", "100000", "--save-every", "1000000", "--preview-every", "0")
    while "pairs/s" not in proc.stderr.readline() and proc.poll() is None:
        pass  # wait until it trains
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "--resume" in err
    assert load_checkpoint(str(out))["step"] >= 1


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None, reason="torchrun missing")
def test_distributed_data_parallel_on_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp.pt"
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    proc = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", "29517", "-m", "dvtex.train", *TINY,
                           "-o", str(out), "--steps", "4", "--device", "cpu"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "DVTEX_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cpu x2" in proc.stderr
    ckpt = load_checkpoint(str(out))
    assert ckpt["step"] == 4
    # DDP kept both replicas in step: the saved weights moved from their initial values
    assert not torch.allclose(ckpt["model"]["A"], torch.eye(10) * 0.70711)


def tiny_config(tmp_path, **over):
    from dvtex.train import TrainConfig

    return TrainConfig(**{"sources": ["procedural:fire:40"], "output": str(tmp_path / "fire.pt"), "preset": "mnist32",
                          "width": 8, "batch": 8, "steps": 5, "preview_every": 0, **over})


def test_training_is_a_python_api(tmp_path):
    """train(TrainConfig) in this process: the config travels whole in the checkpoint, which rebuilds alone."""
    from dvtex.train import train
    from dvtex.train.checkpoint import load_config

    seen = []
    config = tiny_config(tmp_path, save_every=2)
    ckpt = train(config, on_checkpoint=seen.append)
    assert ckpt["step"] == 5 and ckpt["stopped_by"] is None and ckpt["method"] == "dvae"
    assert [c["step"] for c in seen] == [2, 4, 5]  # every checkpoint written, then the final one
    assert not torch.equal(seen[0]["model"]["A"], seen[-1]["model"]["A"])  # copies, not views of live weights
    assert load_config(config.output) == config.resolved()  # with the preset's sigma_y2 filled in
    frames = dvtex.synthesize(config.output, 4)
    assert frames.shape == (4, 32, 32, 3)


def test_a_narrower_encoder_trains_exports_and_resumes(tmp_path):
    from dvtex.player import load_model

    out, same = tmp_path / "m.pt", tmp_path / "same.pt"
    train(out, "--steps", "3", "--encoder-width", "4")
    train(same, "--steps", "1", "--encoder-width", "8")
    ckpt = load_checkpoint(str(out))
    assert ckpt["config"]["encoder_width"] == 4 and ckpt["train_config"]["encoder_width"] == 4
    model, wide = build_model(ckpt), build_model(load_checkpoint(str(same)))
    assert model.encoder.conv_first.out_channels == 4 and wide.encoder.conv_first.out_channels == 8
    assert [p.shape for p in model.decoder.parameters()] == [p.shape for p in wide.decoder.parameters()]
    assert run_module("dvtex.export", out, "-o", tmp_path / "m.onnx").returncode == 0  # verified against torch
    assert load_model(str(tmp_path / "m.onnx"), provider="cpu")[1].height == 32
    train(out, "--steps", "5", "--resume")
    assert load_checkpoint(str(out))["step"] == 5
    assert_user_error(run_module("dvtex.train", *TINY, "-o", out, "--resume", "--steps", "6", "--encoder-width", "8"),
                      "--encoder-width")


def test_the_paper_recipe_on_a_cpu_defaults_to_batch_32_and_a_half_width_encoder(tmp_path):
    from dvtex.train import TrainConfig, train
    from dvtex.train.checkpoint import save_checkpoint

    cpu, cuda = TrainConfig(sources=["procedural:fire"]).resolved(), TrainConfig(sources=["procedural:fire"]).resolved(True)
    assert (cpu.batch, cpu.width, cpu.encoder_width) == (32, 32, 16)
    assert (cuda.batch, cuda.width, cuda.encoder_width) == (64, 128, 128)  # the paper's, on a GPU
    sharp = TrainConfig(sources=["procedural:fire"], recipe="sharp").resolved()
    assert (sharp.batch, sharp.encoder_width) == (64, 32)  # measured at batch 64 only: unchanged
    given = TrainConfig(sources=["procedural:fire"], batch=64, encoder_width=32).resolved()
    assert (given.batch, given.encoder_width) == (64, 32)
    ckpt = train(tiny_config(tmp_path, batch=None, steps=2))
    assert ckpt["train_config"]["batch"] == 32 and ckpt["train_config"]["encoder_width"] == 4  # stored as decided
    assert build_model(ckpt).encoder.conv_first.out_channels == 4
    # a checkpoint written before the default changed says None: it was trained as wide as its decoder
    wide = train(tiny_config(tmp_path, batch=None, steps=2, encoder_width=8, output=str(tmp_path / "old.pt")))
    save_checkpoint({**wide, "train_config": {**wide["train_config"], "encoder_width": None},
                     "config": {**wide["config"], "encoder_width": 0}}, tmp_path / "old.pt")
    old = load_checkpoint(str(tmp_path / "old.pt"))
    assert old["train_config"]["encoder_width"] == 8 and build_model(old).encoder.conv_first.out_channels == 8


def test_old_format_checkpoints_still_load_and_resume(tmp_path):
    """A checkpoint of format 1 (its recipe as train_args) loads, exports and resumes."""
    from dvtex.train import train
    from dvtex.train.checkpoint import save_checkpoint

    config = tiny_config(tmp_path, cosine=0, encoder_width=8)  # format 1 had no narrower encoder
    ckpt = train(config)
    old = {k: v for k, v in ckpt.items() if k not in ("train_config", "cosine_steps", "stopped_by")}
    old.update(format="dvtex-checkpoint/1", train_args={"method": "dvae", "batch": 8, "lr": 1e-3, "lr_dynamics": 1e-2,
                                                         "seed": 0, "kl_warmup": 0, "mask": None, "cosine": 5})
    save_checkpoint(old, config.output)
    upgraded = load_checkpoint(config.output)
    assert upgraded["train_config"]["batch"] == 8 and upgraded["cosine_steps"] == 5
    assert run_module("dvtex.export", config.output).returncode == 0
    train(tiny_config(tmp_path, cosine=0, encoder_width=8, steps=7, resume=True))
    assert load_checkpoint(config.output)["step"] == 7


@pytest.mark.parametrize("option, fragment", [(["--width", "16"], "--width 8"), (["--method", "vae+var"], "--method dvae"),
                                              (["--sigma-y2", "3"], "--sigma-y2"), (["--batch", "4"], "--batch 8")])
def test_resume_refuses_options_that_contradict_the_checkpoint(tmp_path, option, fragment):
    out = tmp_path / "m.pt"
    train(out, "--steps", "2")
    before = out.read_bytes()
    assert_user_error(run_module("dvtex.train", *TINY, "-o", out, "--resume", "--steps", "4", *option), fragment)
    assert out.read_bytes() == before
