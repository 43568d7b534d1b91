"""Train a Dynamic VAE on one or more videos: dvtex-train SOURCE... -o model.pt

Sources are video files, image folders, .npy arrays, digits:01234 or procedural:fire|water|lights.
Checkpoints are written atomically every --save-every steps and on exit, Ctrl-C or SIGTERM;
--resume goes on where a run stopped. Runs under torchrun (DistributedDataParallel) unchanged.
"""

import math
import os
import signal
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from dvtex import __version__
from dvtex.baselines import METHODS, model_class
from dvtex.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from dvtex.data import FramePairs, load_sequences
from dvtex.errors import ArgumentParser, UserError, cli_entry, positive
from dvtex.fileio import atomic_path
from dvtex.model import PRESETS, DVAEConfig
from dvtex.dynamics import spectral_radius
from dvtex.synthesis import decode_frames, played_path

PACE_STEPS = 50  # --cosine over a --minutes budget: steps estimated from the pace of the first ones
H0_COUNT = 16  # initial states stored with the model: encoder means of pairs spread over the data


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


@torch.no_grad()
def initial_states(model, pairs):
    """Latent states of pairs spread over the data (a DVAE's encoder means), (k, n)."""
    was_training = model.training
    model.eval()
    y, mask = pairs.batch(pairs.spread(H0_COUNT))
    h = model.states(y, mask)
    model.train(was_training)
    return h.float().cpu()


@torch.no_grad()
def write_preview(model, pairs, path, frames=8, seed=0):
    """Training frames (top) beside frames synthesised from the first pair's encoder mean (bottom)."""
    was_training = model.training
    model.eval()
    first = int(pairs.first[0])
    real = pairs.frames[first:first + frames].permute(0, 2, 3, 1).cpu().numpy()
    h0 = initial_states(model, pairs)[0]
    synth = decode_frames(model, played_path(model, h0.numpy(), frames, seed))
    model.train(was_training)
    row = lambda f: np.concatenate(list(f), axis=1)  # noqa: E731
    grid = np.concatenate([row(real), row(synth[: len(real)])], axis=0)
    img = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
    scale = max(1, 96 // pairs.frames.shape[-1])
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    with atomic_path(path, ".png") as tmp:
        img.save(tmp)


def train_step(net, opt, y, mask=None, samples=1, kl_weight=1.0):
    """One Adam step on a batch of pairs; bf16 autocast on CUDA. Returns the loss terms."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=y.is_cuda):
        terms = net(y, mask, samples=samples, kl_weight=kl_weight)
    opt.zero_grad(set_to_none=True)
    terms["loss"].backward()
    opt.step()
    return terms


def cosine_factor(step, total, floor=0.02):
    """Learning-rate factor: 1 at step 0, falling along a half cosine to `floor` at `total`."""
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0)))


def set_lr(opt, base, factor):
    for group, lr in zip(opt.param_groups, base):
        group["lr"] = lr * factor


def make_checkpoint(model, opt, step, gen, pairs, seqs, args, history):
    return {
        "format": FORMAT, "dvtex_version": __version__, "method": args.method, "config": model.cfg.to_dict(),
        "model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
        "rng": {"torch": torch.get_rng_state(), "batch": gen.get_state()},
        "data": [s.describe() for s in seqs], "fps": float(seqs[0].fps),
        "h0": initial_states(model, pairs), "history": history,
        "train_args": {k: getattr(args, k) for k in ("method", "batch", "lr", "lr_dynamics", "seed", "kl_warmup", "mask", "cosine")},
    }


def build_config(args, channels, ckpt):
    if ckpt is not None:
        return DVAEConfig(**ckpt["config"])
    overrides = {"channels": channels, "masked": bool(args.mask), "width": args.width}
    if args.sigma_y2 is not None:
        overrides["sigma_y2"] = args.sigma_y2
    return DVAEConfig.from_preset(args.preset, **overrides)


def check_resume(args):
    """The checkpoint to continue, or None; refuses to overwrite a model without --resume."""
    if not os.path.exists(args.output):
        if args.resume:
            print(f"dvtex-train: no checkpoint at {args.output} yet; starting a new run", file=sys.stderr)
        return None
    if not args.resume:
        raise UserError(f"{args.output} exists; add --resume to continue it, or choose another -o")
    ckpt = load_checkpoint(args.output)
    trained_on = [d["source"] for d in ckpt["data"]]
    if trained_on != list(args.sources):
        raise UserError(f"--resume: {args.output} was trained on {' '.join(trained_on)}; give the same sources")
    return ckpt


class Training:
    """One training process: the model, its optimizer and data, restored from a checkpoint on --resume."""

    def __init__(self, args, run, ckpt):
        self.args, self.run = args, run
        size = DVAEConfig(**ckpt["config"]).size if ckpt else PRESETS[args.preset]["size"]
        self.seqs = load_sequences(args.sources, size, seed=args.seed, grey=True if args.grey else None, mask=args.mask)
        torch.manual_seed(args.seed)  # the same initial weights on every rank
        self.model = model_class(args.method)(build_config(args, self.seqs[0].frames.shape[3], ckpt)).to(run.device)
        others = [p for name, p in self.model.named_parameters() if p.requires_grad and name not in ("A", "B")]
        groups = [{"params": others}]
        if self.model.A.requires_grad:  # a DVAE learns its dynamics; the baselines fit theirs
            groups.append({"params": [self.model.A, self.model.B], "lr": args.lr_dynamics})
        self.opt = torch.optim.Adam(groups, lr=args.lr)
        self.gen = torch.Generator().manual_seed(args.seed * 1000 + run.rank)
        torch.manual_seed(args.seed * 1000 + run.rank + 1)
        self.step, self.history = 0, []
        if ckpt is not None:
            self.restore(ckpt)
        self.pairs = FramePairs(self.seqs, run.device)
        self.net = self.model
        if run.world > 1:
            ids = [run.device.index] if run.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    def restore(self, ckpt):
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.step, self.history = ckpt["step"], list(ckpt["history"])
        if self.run.rank == 0:
            torch.set_rng_state(ckpt["rng"]["torch"])
            self.gen.set_state(ckpt["rng"]["batch"])
        else:  # other ranks' streams were not saved: a fresh one per rank and step
            self.gen.manual_seed(self.args.seed * 1000 + self.run.rank + 7 * self.step)

    def describe(self):
        cfg, run = self.model.cfg, self.run
        params = sum(p.numel() for p in self.model.parameters()) / 1e6
        return (f"{len(self.pairs)} pairs from {len(self.seqs)} sequence(s), {cfg.size}x{cfg.size}x{cfg.channels}, "
                f"width {cfg.width}, {params:.2f}M parameters, {run.device.type}{f' x{run.world}' if run.world > 1 else ''}")

    def save(self):
        if self.run.main:
            if self.args.method != "dvae":
                self.model.fit(self.pairs)  # the baselines' dynamics, fitted to what the model knows now
            ckpt = make_checkpoint(self.model, self.opt, self.step, self.gen, self.pairs, self.seqs, self.args, self.history)
            save_checkpoint(ckpt, self.args.output)

    def train_once(self):
        args = self.args
        idx = torch.randint(len(self.pairs), (args.batch,), generator=self.gen).to(self.run.device)
        y, mask = self.pairs.batch(idx)
        kl_weight = min(1.0, (self.step + 1) / args.kl_warmup) if args.kl_warmup else 1.0
        if args.cosine:  # 0 (not yet known) keeps the base rates
            set_lr(self.opt, [args.lr, args.lr_dynamics], cosine_factor(self.step, args.cosine))
        terms = train_step(self.net, self.opt, y, mask, kl_weight=kl_weight)
        self.step += 1
        self.history.append([self.step] + [terms[k].item() for k in ("loss", "rec", "kl", "stat")])

    def loop(self):
        """Train until the budget is spent or a signal arrives; checkpoints and previews on the way."""
        args, run = self.args, self.run
        preview = os.path.splitext(args.output)[0] + ".preview.png"
        if not self.model.trainable:  # the LDS: closed form, fitted once
            self.save()
            if run.main and args.preview_every:
                write_preview(self.model, self.pairs, preview)
            return
        deadline = time.monotonic() + args.minutes * 60 if args.minutes else math.inf
        total = args.steps if not args.minutes else None
        if args.cosine == 0 and total:  # --cosine without N: over the whole budget
            args.cosine = total
        bar = progress_bar(total, self.step, run.main)
        start, start_step = time.monotonic(), self.step
        try:
            while (total is None or self.step < total) and time.monotonic() < deadline and not run.stop_signal:
                if args.cosine == 0 and self.step - start_step == PACE_STEPS:
                    args.cosine = self.step + int((deadline - time.monotonic()) / ((time.monotonic() - start) / PACE_STEPS))
                    if run.main:
                        bar.write(f"dvtex-train: --cosine: about {args.cosine} steps in the budget at this pace", file=sys.stderr)
                self.train_once()
                if run.main:
                    rate = (self.step - start_step) * args.batch * run.world / (time.monotonic() - start)
                    report(bar, self.model, self.history[-1], rate, deadline)
                if self.step % args.save_every == 0:
                    self.save()
                if run.main and args.preview_every and self.step % args.preview_every == 0:
                    write_preview(self.model, self.pairs, preview)
        except KeyboardInterrupt:
            run.stop_signal = signal.SIGINT
        finally:
            bar.close()
        self.save()
        if run.main and args.preview_every:
            write_preview(self.model, self.pairs, preview)


def train(args):
    run = start_run(args.device)
    ckpt = check_resume(args)
    if ckpt is not None:
        for key, value in ckpt["train_args"].items():
            setattr(args, key, value)  # a resumed run keeps its recipe
    training = Training(args, run, ckpt)
    if run.main:
        print(f"dvtex-train: {training.describe()}", file=sys.stderr)
    previous = signal.signal(signal.SIGTERM, lambda signum, _: setattr(run, "stop_signal", signum))
    try:
        training.loop()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if run.world > 1:
        # together: a rank that tears gloo down while rank 0 still saves can abort at exit
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if run.main:
        how = f"stopped by {signal.Signals(run.stop_signal).name}" if run.stop_signal else "done"
        print(f"dvtex-train: {how} at step {training.step}; checkpoint {args.output}"
              + ("; --resume continues it" if run.stop_signal else ""), file=sys.stderr)
    return 128 + run.stop_signal if run.stop_signal else 0


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
            post["left"] = f"{max(0, deadline - time.monotonic()) / 60:.1f}min"
        bar.set_postfix(post, refresh=False)


def parse_args(argv):
    p = ArgumentParser(prog="dvtex-train", description=__doc__,
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="video, image folder, .npy, digits:CYCLE or procedural:NAME")
    p.add_argument("-o", "--output", required=True, help="checkpoint path (.pt)")
    p.add_argument("--preset", default="cows64", choices=sorted(PRESETS), help="the paper's Table 1 configurations (default cows64)")
    p.add_argument("--width", type=int, help="encoder/decoder width d (default 128, the paper's, on CUDA; 32 on a CPU)")
    p.add_argument("--sigma-y2", type=positive, help="output variance (default: the preset's)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="train until this many steps in all (default 5000)")
    budget.add_argument("--minutes", type=float, help="train for this many minutes")
    p.add_argument("--batch", type=int, default=64, help="frame pairs per step (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--lr-dynamics", type=float, default=1e-2,
                   help="learning rate of A and B (default 1e-2: 200 numbers with a weak, noisy gradient)")
    p.add_argument("--method", default="dvae", choices=METHODS,
                   help="dvae (default), or a baseline: vae+var (a VAE, then a fitted VAR), lds (Doretto's linear dynamic texture)")
    p.add_argument("--cosine", type=int, nargs="?", const=0, metavar="N",
                   help="decay the learning rates along a half cosine over N steps (no N: over the whole --steps/--minutes budget)")
    p.add_argument("--kl-warmup", type=int, default=0, help="steps over which the KL weight ramps from 0 to 1")
    p.add_argument("--mask", help="incomplete data: saltpepper:P, rect:P, or a mask video/folder (white = observed)")
    p.add_argument("--grey", action="store_true", help="train on grey frames even if the source is in colour")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--save-every", type=int, default=200, help="checkpoint every K steps (default 200)")
    p.add_argument("--preview-every", type=int, default=500, help="preview PNG every K steps, 0 for none (default 500)")
    p.add_argument("--resume", action="store_true", help="continue the run saved at -o")
    args = p.parse_args(argv)
    if args.steps is None and args.minutes is None:
        args.steps = 5000
    if args.width is None:
        args.width = 128 if args.device != "cpu" and torch.cuda.is_available() else 32
    for name in ("batch", "width", "save_every"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


@cli_entry("dvtex-train")
def main(argv=None):
    args = parse_args(argv)
    try:
        DVAEConfig.from_preset(args.preset, width=args.width)
    except ValueError as err:
        raise UserError(f"--width {args.width} does not fit preset {args.preset}: {err}") from None
    if args.method == "lds" and args.mask:
        raise UserError("--method lds fits complete frames only; drop --mask, or use --method dvae or vae+var")
    torch.set_num_threads(int(os.environ.get("DVTEX_THREADS", torch.get_num_threads())))
    sys.exit(train(args))


if __name__ == "__main__":
    main()
