"""Reproduce the paper's comparisons: dvtex-eval digits | textures SOURCE... | incomplete SOURCE --mask M

Every run trains its models (the DVAE, and the baselines VAE + VAR and the LDS of Doretto et al.),
synthesises from each, scores the result and prints a table; --json writes the figures, with the
hardware, minutes and seeds. Models and contact sheets go to --out.

  digits      DVAE vs VAE+VAR vs LDS on digits:01234 (mnist32): order accuracy and readability, by a
              digit judge trained on MNIST digits the models never saw, and FID
  textures    the same three on each source (videos, procedural:fire|water|lights): FID and KID
              (Inception-v3), SWD, temporal spectrum distance, motion ratio, drift over a long
              run, copy ratio; a contact sheet per source (training | LDS | VAE+VAR | DVAE); and
              per source, what 10 principal components hold of it, its lag-1 correlation, and its
              floor (KID and SWD of its first half against its second)
  incomplete  DVAE on frames with --mask against DVAE on full frames, both scored on full frames

A model's scores come from one played run (seed --seed); --play-seeds N averages them over N runs
and adds KID per run and its spread, for telling two models apart from the spread of their runs.
"""

import argparse
import os
import sys
import time

from dvtex.errors import ArgumentParser, cli_entry, count, positive, writable_file
from dvtex.fileio import write_json
from dvtex.hardware import hardware
from dvtex.train.model import PRESETS


def parse_args(argv):
    p = ArgumentParser(prog="dvtex-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=["digits", "textures", "incomplete"])
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="textures/incomplete: videos, folders, procedural:NAME ...")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=positive, help="training minutes per network (default: 15 for digits, 3 otherwise)")
    budget.add_argument("--steps", type=count(1), help="training steps per network instead: the same models on any machine, however busy")
    p.add_argument("--schedule", choices=("cosine", "constant"),
                   help="learning rates: a half cosine over the budget, or constant (default: constant for digits, "
                        "cosine otherwise)")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--out", help="models and contact sheets (default runs/eval-TASK)")
    p.add_argument("--mask", help="incomplete: saltpepper:P, rect:P, or a mask video/folder")
    p.add_argument("--preset", default="cows64", choices=sorted(PRESETS), help="textures/incomplete: model preset (default cows64, 64x64)")
    p.add_argument("--width", type=count(1), default=32, help="network width d (default 32)")
    p.add_argument("--recipe", default="paper", choices=["paper", "sharp"],
                   help="textures/incomplete: the DVAE's and VAE+VAR's training recipe (default paper)")
    p.add_argument("--sigma-y2", type=positive, help="textures/incomplete: fix the output variance (default: the recipe's)")
    p.add_argument("--reuse", action="store_true",
                   help="keep the models an earlier run with the same recipe and --steps left in --out, and score them again")
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--seeds", type=count(1), default=5, help="digits: synthesised sequences per method (default 5)")
    p.add_argument("--frames", type=count(2), default=200, help="digits: frames per sequence (default 200)")
    p.add_argument("--snapshot-every", type=float, default=2.5,
                   help="digits: also judge the DVAE every this many training minutes, 0 for never (default 2.5)")
    p.add_argument("--fid-frames", type=count(0), default=200, help="frames per set for FID/KID, 0 for none (default 200)")
    p.add_argument("--play-seeds", type=count(1), default=1,
                   help="textures/incomplete: score each model on this many played runs (seeds --seed, --seed + 1, ...), "
                        "their mean and KID's spread (default 1)")
    p.add_argument("--long-run", type=count(2), default=10000, help="frames synthesised for the drift figures (default 10000)")
    args = p.parse_args(argv)
    if args.task == "digits" and args.sources:
        p.error("digits takes no SOURCE (it trains on digits:01234)")
    if args.task == "digits" and args.play_seeds != 1:
        p.error("digits takes no --play-seeds: --seeds sets how many sequences each method plays")
    if args.task != "digits" and not args.sources:
        p.error(f"{args.task} needs at least one SOURCE")
    if args.task == "incomplete" and not args.mask:
        p.error("incomplete needs --mask, e.g. --mask saltpepper:0.5")
    if args.task == "incomplete" and len(args.sources) != 1:
        p.error("incomplete takes one SOURCE")
    if not args.snapshot_every >= 0:
        p.error(f"--snapshot-every: minutes, 0 or more, not {args.snapshot_every}")
    if args.minutes is None and args.steps is None:
        args.minutes = 15.0 if args.task == "digits" else 3.0
    args.budget = {"steps": args.steps} if args.steps else {"minutes": args.minutes}
    # digits in 10,000 steps: 91.1% at constant rates, 68.3% on the cosine (README); textures: the tables' cosine
    args.schedule = args.schedule or ("constant" if args.task == "digits" else "cosine")
    args.out = args.out or os.path.join("runs", f"eval-{args.task}")
    return args


def check_args(args):
    """Everything the run will need, checked before the first step: the recipe, the sources, --out."""
    from dvtex.errors import UserError
    from dvtex.eval.runner import eval_config
    from dvtex.eval.tasks import load_real

    recipe = {"sources": ["digits:01234"], "preset": "mnist32"} if args.task == "digits" else \
        {"sources": args.sources, "preset": args.preset, "sigma_y2": args.sigma_y2, "mask": args.mask,
         "recipe": args.recipe}
    eval_config("dvae", os.path.join(args.out, "x.pt"), args.budget, args.seed, args.schedule, width=args.width,
                **recipe).validate()
    if args.json:
        writable_file(args.json, "--json")  # not hours later, when the figures are ready
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is a file; give a folder for the models and contact sheets")
    args.real = load_real(args) if args.task != "digits" else {}
    os.makedirs(args.out, exist_ok=True)
    if not os.access(args.out, os.W_OK):
        raise UserError(f"--out {args.out} is not writable; choose another folder")


@cli_entry("dvtex-eval")
def main(argv=None):
    import torch

    from dvtex.eval.tasks import run_digits, run_incomplete, run_textures

    args = parse_args(argv)
    torch.set_num_threads(int(os.environ.get("DVTEX_THREADS", torch.get_num_threads())))
    check_args(args)
    log = lambda msg: print(f"dvtex-eval: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    budget = ", ".join(f"{v} {k}" for k, v in args.budget.items())
    log(f"{args.task} on {hardware()}; {budget} per network, seed {args.seed}")
    started = time.monotonic()
    result = {"digits": run_digits, "textures": run_textures, "incomplete": run_incomplete}[args.task](args, log)
    result.update(hardware=hardware(), minutes_per_network=args.minutes, steps_per_network=args.steps, seed=args.seed,
                  schedule=args.schedule,
                  wall_minutes=round((time.monotonic() - started) / 60, 2), argv=sys.argv[1:] if argv is None else argv)
    if args.task != "digits":  # the digits play --seeds sequences of their own
        result["play_seeds"] = list(range(args.seed, args.seed + args.play_seeds))
    if args.json:
        write_json(args.json, result)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
