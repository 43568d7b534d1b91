"""Training the models an evaluation compares: TrainConfigs built here, trained in this process, kept
in --out, reused when an earlier run left the same recipe there, snapshotted on the way."""

import os
import signal
import time
from dataclasses import replace

from dvtex.train import TrainConfig, train
from dvtex.train.baselines import model_class
from dvtex.train.checkpoint import load_checkpoint

LABELS = {"dvae": "DVAE", "vae+var": "VAE+VAR", "lds": "LDS", "dvae-masked": "DVAE (masked)", "dvae-full": "DVAE (full)"}
# The digit experiment's recipe (README): mnist32, batch 64, Adam 1e-3 with A and B at 1e-2, sigma_y2 = 32.
DIGIT_RECIPE = dict(sources=["digits:01234"], preset="mnist32", batch=64, lr=1e-3, lr_dynamics=1e-2, sigma_y2=32.0,
                    recipe="paper")
SCHEDULES = {"cosine": {"cosine": 0}, "constant": {"cosine": None}}


def eval_config(method, output, budget, seed, schedule="cosine", **recipe):
    """The TrainConfig of one evaluated network: `budget` is {'steps': N} or {'minutes': M}; every
    network but the closed-form LDS learns on a half cosine over its whole budget or at constant rates
    (SCHEDULES). Batch 64 and an encoder as wide as the decoder unless `recipe` says otherwise, on a
    CPU too: README's tables were trained so."""
    recipe = {"batch": 64, **recipe}
    recipe.setdefault("encoder_width", recipe.get("width"))
    return TrainConfig(method=method, output=output, seed=seed, preview_every=0, save_every=1000,
                       **SCHEDULES[schedule], **budget, **recipe)


def reusable(ckpt, config):
    """Whether a checkpoint an earlier run left is `config`'s model, trained for its whole budget. The
    LDS is always whole, and its fit depends on neither sigma_y2 nor the optimiser's settings."""
    stored, config = TrainConfig.from_dict(ckpt["train_config"]).resolved(), config.resolved()
    ignore = set(model_class(config.method).ignores)
    mine = {k: v for k, v in config.model_recipe().items() if k not in ignore}
    theirs = {k: v for k, v in stored.model_recipe().items() if k not in ignore}
    whole = not model_class(config.method).learns_by_steps or (
        config.minutes is None and stored.minutes is None and ckpt["step"] >= config.steps)
    return mine == theirs and whole


class Snapshots:
    """on_checkpoint callback: keeps a checkpoint every `every` minutes of training (accuracy against
    training minutes, from one run)."""

    def __init__(self, every):
        self.every, self.taken, self.start = every, [], time.monotonic()

    def __call__(self, ckpt):
        minutes = (time.monotonic() - self.start) / 60
        if self.every and minutes >= (len(self.taken) + 1) * self.every and not ckpt["stopped_by"]:
            self.taken.append((round(minutes, 2), ckpt))


def train_model(config, log, snapshot_every=0, reuse=False):
    """Train `config` in this process (its progress bar included) and return (checkpoint, snapshots
    [(minutes, checkpoint)]). With `reuse`, a finished model with the same recipe at its output is kept."""
    label = LABELS.get(config.method, config.method)
    if reuse and os.path.isfile(config.output):
        ckpt = load_checkpoint(config.output)
        if reusable(ckpt, config.resolved()):
            log(f"{label}: reusing {config.output} ({ckpt['step']} steps)")
            return {**ckpt, "train_seconds": None}, []
    if os.path.exists(config.output):
        os.remove(config.output)
    if snapshot_every:
        config = replace(config, save_every=50)
    log(f"training {label}: {describe(config)}")
    snapshots = Snapshots(snapshot_every)
    started = time.monotonic()
    ckpt = train(config, on_checkpoint=snapshots if snapshot_every else None)
    if ckpt["stopped_by"]:
        raise SystemExit(128 + getattr(signal, ckpt["stopped_by"]))  # interrupted: the checkpoint so far is kept
    return {**ckpt, "train_seconds": time.monotonic() - started}, snapshots.taken


def describe(config):
    budget = f"{config.steps} steps" if config.minutes is None else f"{config.minutes:g} minutes"
    recipe = {k: v for k, v in config.model_recipe().items() if v is not None and v is not False
              and k not in ("method", "sources")}
    return f"{' '.join(config.sources)}, {budget}, " + ", ".join(f"{k} {v}" for k, v in recipe.items())


def minutes_of(ckpt):
    return None if ckpt["train_seconds"] is None else round(ckpt["train_seconds"] / 60, 2)
