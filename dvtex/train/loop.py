"""The training loop: `train(TrainConfig(...))` learns a model and returns its final checkpoint.

Checkpoints are written atomically every `save_every` steps and when the run stops (end of budget,
Ctrl-C, SIGTERM); `resume=True` goes on where a run stopped. How a model learns is its own
(`model.fit(training)`: gradient steps for the DVAE and the VAE, closed form for the LDS); this loop
owns the budget, the schedule and the checkpoints. Runs under torchrun (DistributedDataParallel).
"""

import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass

import torch

from dvtex import __version__
from dvtex.dynamics import spectral_radius
from dvtex.errors import UserError, first_line
from dvtex.train.baselines import model_class
from dvtex.fileio import remove_stale_temporaries
from dvtex.train.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from dvtex.train.config import TrainConfig
from dvtex.train.data import FramePairs, load_sequences
from dvtex.train.model import DVAEConfig
from dvtex.train.preview import initial_states, write_preview

PACE_STEPS = 50  # the pace of the first steps: the ETA of a steps budget, the cosine length of a minutes budget
clock = time.monotonic  # the budget's clock (a test may replace it)


@dataclass
class Run:
    """What a training process needs besides the model: its place in a distributed job and its clock."""

    device: torch.device
    rank: int = 0
    world: int = 1
    stop_signal: int = 0

    @property
    def main(self):
        return self.rank == 0


def pick_device(name, local_rank=0):
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is visible to PyTorch; use --device cpu")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", local_rank)


def start_run(device_name):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    run = Run(pick_device(device_name, local), rank, world)
    if world > 1:
        torch.distributed.init_process_group("nccl" if run.device.type == "cuda" else "gloo")
    return run


class Diverged(Exception):
    """A step's gradients were not finite: the step was not taken."""


def descend_once(opt, loss):
    """Back-propagate `loss` and take the optimizer's step, unless the gradients are not finite: then
    Diverged, with the weights as they were (one such step turns Adam's moments, and with them every
    weight, into NaN). Under DDP the gradients are all-reduced first, so every rank agrees."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
    if not torch.isfinite(torch.nn.utils.get_total_norm(grads)):
        raise Diverged(f"loss {loss.item():.3g}, gradients not finite")
    opt.step()


def train_step(net, opt, y, mask=None, samples=1, kl_weight=1.0, statistics=True):
    """One Adam step on a batch of pairs; bf16 autocast on CUDA. Returns the loss terms. `statistics`
    False leaves the texture and motion terms (and their decoded process pairs) out of this step."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=y.is_cuda):
        terms = net(y, mask, samples=samples, kl_weight=kl_weight, statistics=statistics)
    descend_once(opt, terms["loss"])
    return terms


def cosine_factor(step, total, floor=0.02):
    """Learning-rate factor: 1 at step 0, falling along a half cosine to `floor` at `total`."""
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0)))


def check_writable(out, example="model.pt"):
    """Refuse an -o that is a folder or lies in a folder that is missing or not writable."""
    if os.path.isdir(out):
        raise UserError(f"-o {out} is a folder; name the checkpoint file, e.g. -o {os.path.join(out, example)}")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UserError(f"-o {out}: folder {folder} does not exist; create it or choose another -o")
    if not os.access(folder, os.W_OK):
        raise UserError(f"-o {out}: folder {folder} is not writable; choose another -o")


def check_output(config):
    """The checkpoint to continue (resume), or None; refuses, before any work, an output that exists
    without resume or that cannot be written."""
    out = config.output
    check_writable(out)
    if not os.path.exists(out):
        if config.resume:
            print(f"dvtex-train: no checkpoint at {out} yet; starting a new run", file=sys.stderr)
        return None
    if not config.resume:
        raise UserError(f"{out} exists; add --resume to continue it, or choose another -o")
    ckpt = load_checkpoint(out)
    stored = TrainConfig.from_dict(ckpt["train_config"])
    if stored.model_recipe() != config.model_recipe():
        raise UserError(f"--resume: {out} was trained with another recipe; resume it with its own options")
    return ckpt


class Training:
    """One training process: the model, its optimizer and data, restored from a checkpoint on resume."""

    def __init__(self, config, run, ckpt, on_checkpoint=None):
        self.config, self.run, self.on_checkpoint = config, run, on_checkpoint
        size = DVAEConfig(**ckpt["config"]).frame_shape if ckpt else config.model_config(3).frame_shape
        grey = (ckpt["config"]["channels"] == 1) if ckpt else (True if config.grey else None)
        self.seqs = load_sequences(config.sources, size, seed=config.seed, grey=grey, mask=config.mask)
        torch.manual_seed(config.seed)  # the same initial weights on every rank
        model_cfg = DVAEConfig(**ckpt["config"]) if ckpt else config.model_config(self.seqs[0].frames.shape[3])
        self.model = model_class(config.method)(model_cfg).to(run.device)
        self.base_lr = (config.lr, config.lr_dynamics)
        self.opt = torch.optim.Adam(self.model.parameter_groups(*self.base_lr), lr=config.lr)
        self.gen = torch.Generator().manual_seed(config.seed * 1000 + run.rank)
        torch.manual_seed(config.seed * 1000 + run.rank + 1)
        self.step, self.history = 0, []
        self.cosine_steps = config.cosine or (config.steps if config.cosine == 0 and config.minutes is None else None)
        if ckpt is not None:
            self.restore(ckpt)
        self.pairs = FramePairs(self.seqs, run.device)
        self.net = self.model
        if run.world > 1:
            ids = [run.device.index] if run.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.last = None
        self.saved_step = ckpt["step"] if ckpt else None  # of the checkpoint at config.output
        self.preview = os.path.splitext(config.output)[0] + ".preview.png"

    def restore(self, ckpt):
        """The run as it was: weights (checked on load), then what only resuming reads (the optimizer,
        the random streams, the history), each refused by name when it does not fit."""
        self.model.load_state_dict(ckpt["model"])
        self.step = ckpt["step"]
        for field, put in (("optimizer", self._restore_optimizer), ("rng", self._restore_rng),
                           ("history", self._restore_history), ("cosine_steps", self._restore_cosine)):
            try:
                put(ckpt.get(field))
            except (ValueError, KeyError, TypeError, RuntimeError, IndexError, AttributeError) as err:
                raise UserError(f"--resume: the checkpoint's '{field}' does not fit this run ({first_line(err, 60)}); "
                                "export it as it is, or train again") from None

    def _restore_optimizer(self, state):
        if state:
            self.opt.load_state_dict(state)

    def _restore_rng(self, rng):
        if self.run.rank == 0 and rng:
            torch.set_rng_state(rng["torch"])
            self.gen.set_state(rng["batch"])
        else:  # other ranks' streams were not saved: a fresh one per rank and step
            self.gen.manual_seed(self.config.seed * 1000 + self.run.rank + 7 * self.step)

    def _restore_history(self, history):
        rows = list(history or [])
        if not all(isinstance(r, (list, tuple)) and all(isinstance(v, (int, float)) for v in r) for r in rows):
            raise ValueError("not rows of numbers")
        self.history = [list(r) for r in rows]

    def _restore_cosine(self, steps):
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise ValueError(f"{steps!r} is not a step count")
        self.cosine_steps = steps or self.cosine_steps

    def describe(self):
        cfg, run = self.model.cfg, self.run
        params = sum(p.numel() for p in self.model.parameters()) / 1e6
        return (f"{len(self.pairs)} pairs from {len(self.seqs)} sequence(s), {cfg.frame_width}x{cfg.size}x{cfg.channels}, "
                f"width {cfg.width}, {params:.2f}M parameters, {run.device.type}{f' x{run.world}' if run.world > 1 else ''}")

    def checkpoint(self):
        """The run as a checkpoint dict; tensors are copies, so it stays as it is while training goes on."""
        copy = lambda d: {k: v.detach().to("cpu", copy=True) for k, v in d.items()}  # noqa: E731
        return {
            "format": FORMAT, "dvtex_version": __version__, "method": self.model.method,
            "config": self.model.cfg.to_dict(), "train_config": self.config.to_dict(),
            "model": copy(self.model.state_dict()), "optimizer": self.opt.state_dict(), "step": self.step,
            "rng": {"torch": torch.get_rng_state(), "batch": self.gen.get_state()},
            "data": [s.describe() for s in self.seqs], "fps": float(self.seqs[0].fps),
            "h0": initial_states(self.model, self.pairs), "history": list(self.history),
            "cosine_steps": self.cosine_steps,
            "stopped_by": signal.Signals(self.run.stop_signal).name if self.run.stop_signal else None,
        }

    def save(self):
        if not self.run.main:
            return
        self.model.complete(self.pairs)  # what gradient steps do not learn (the baselines' dynamics)
        ckpt = self.checkpoint()
        if not all(torch.isfinite(v).all() for v in (*ckpt["model"].values(), ckpt["h0"]) if v.is_floating_point()):
            # finite steps can still carry the weights where the encoder overflows: keep what was saved
            raise self.diverged(f"by step {self.step} (its weights or initial states are not finite)")
        self.last = ckpt
        save_checkpoint(self.last, self.config.output)
        self.saved_step = self.step
        if self.on_checkpoint is not None:
            self.on_checkpoint(self.last)

    def train_once(self):
        config = self.config
        idx = torch.randint(len(self.pairs), (config.batch,), generator=self.gen).to(self.run.device)
        y, mask = self.pairs.batch(idx)
        kl_weight = min(1.0, (self.step + 1) / config.kl_warmup) if config.kl_warmup else 1.0
        if config.cosine is not None and self.cosine_steps:  # not yet known: the base rates
            for group, lr in zip(self.opt.param_groups, self.base_lr):
                group["lr"] = lr * cosine_factor(self.step, self.cosine_steps)
        try:
            terms = train_step(self.net, self.opt, y, mask, kl_weight=kl_weight,
                               statistics=self.step >= config.statistics_from)
        except Diverged as err:
            raise self.diverged(f"at step {self.step + 1} ({err})") from None
        self.step += 1
        self.history.append([self.step] + [terms[k].item() for k in ("loss", "rec", "kl", "stat")])

    def diverged(self, when):
        """The error that stops a run whose loss ran away, naming the checkpoint it leaves and the fix."""
        if self.saved_step is not None:
            kept = f"{self.config.output} keeps the checkpoint of step {self.saved_step}"
        else:
            kept = f"nothing was saved (the first checkpoint comes at step {self.config.save_every})"
        return UserError(f"training diverged {when}; {kept}; train again with a lower --lr (now {self.config.lr:g}) "
                         "or lower --texture/--motion/--prior weights")

    def plan_from_pace(self, seconds_per_step, deadline, total, bar):
        """After the first PACE_STEPS steps: a minutes budget's cosine length, a steps budget's ETA."""
        if self.config.cosine == 0 and not self.cosine_steps:
            self.cosine_steps = self.step + int((deadline - clock()) / seconds_per_step)
            if self.run.main:
                bar.write(f"dvtex-train: --cosine: about {self.cosine_steps} steps in the budget at this pace",
                          file=sys.stderr)
        if self.run.main and total is not None and self.step < total:
            left = total - self.step
            bar.write(f"dvtex-train: {1 / seconds_per_step:.2f} steps/s over the first {PACE_STEPS} steps here: the "
                      f"{left} left take about {minutes_text(left * seconds_per_step)}", file=sys.stderr)

    def descend(self):
        """Gradient steps until the budget is spent or a signal arrives; checkpoints and previews on the way."""
        config, run = self.config, self.run
        deadline = clock() + config.minutes * 60 if config.minutes else math.inf
        total = config.steps if config.minutes is None else None
        bar = progress_bar(total, self.step, run.main)
        start, start_step = clock(), self.step
        try:
            while (total is None or self.step < total) and clock() < deadline and not run.stop_signal:
                if self.step - start_step == PACE_STEPS:
                    self.plan_from_pace((clock() - start) / PACE_STEPS, deadline, total, bar)
                self.train_once()
                if run.main:
                    rate = (self.step - start_step) * config.batch * run.world / (clock() - start)
                    report(bar, self.model, self.history[-1], rate, deadline)
                if self.step % config.save_every == 0:
                    self.save()
                if run.main and config.preview_every and self.step % config.preview_every == 0:
                    write_preview(self.model, self.pairs, self.preview)
        except KeyboardInterrupt:
            run.stop_signal = signal.SIGINT
        finally:
            bar.close()


def minutes_text(seconds):
    return f"{seconds / 60:.1f} minutes" if seconds >= 60 else f"{seconds:.0f} s"


def train(config, on_checkpoint=None):
    """Train a model as `config` says; returns the final checkpoint dict (None on ranks other than 0).

    `on_checkpoint(ckpt)` is called with every checkpoint written (its tensors are copies). The run
    stops early on SIGTERM or Ctrl-C, saving first: the checkpoint's `stopped_by` says so."""
    config.validate()
    run = start_run(config.device)
    config = config.resolved(run.device.type == "cuda")
    ckpt = check_output(config)
    for leftover in remove_stale_temporaries(config.output, ".pt"):
        print(f"dvtex-train: removed {leftover}, left by a save that was killed", file=sys.stderr)
    training = Training(config, run, ckpt, on_checkpoint)
    if run.main:
        print(f"dvtex-train: {training.describe()}", file=sys.stderr)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        previous = signal.signal(signal.SIGTERM, lambda signum, _: setattr(run, "stop_signal", signum))
    try:
        training.model.fit(training)
        if training.last is None or training.last["step"] != training.step or run.stop_signal:
            training.save()  # unless the budget ended on a checkpoint
        if run.main and config.preview_every:
            write_preview(training.model, training.pairs, training.preview)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    if run.world > 1:
        # together: a rank that tears gloo down while rank 0 still saves can abort at exit
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return training.last


def progress_bar(total, step, enabled):
    from tqdm import tqdm

    return tqdm(total=total, initial=step, unit="step", disable=not enabled, mininterval=1.0,
                dynamic_ncols=True, file=sys.stderr)


def report(bar, model, row, pairs_per_s, deadline):
    bar.update(1)
    if row[0] % 10 == 0 or row[0] == 1:
        post = {"loss": f"{row[1]:.1f}", "rec": f"{row[2]:.1f}", "kl": f"{row[3]:.1f}",
                "|AA'+BB'-I|": f"{math.sqrt(row[4]):.1e}", "rho(A)": f"{spectral_radius(model.A.detach().double().cpu().numpy()):.3f}",
                "pairs/s": f"{pairs_per_s:.0f}"}
        if deadline != math.inf:
            post["left"] = f"{max(0, deadline - clock()) / 60:.1f}min"
        bar.set_postfix(post, refresh=False)

