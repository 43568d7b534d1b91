"""The paper's digit ablation on this machine: does synthesis follow 0 -> 1 -> 2 -> 3 -> 4 -> 0?

Runs `dvtex-eval digits` (the real CLI): the DVAE trains on digits:01234 (mnist32, width 32) for
--minutes with its learning rates on a half cosine over the budget, and is judged every 2.5 minutes
on the way (5 sequences of 200 frames each, by a digit judge trained on MNIST digits the models never
saw); VAE + VAR gets the same budget and the LDS is fitted in closed form. Prints order accuracy
against training minutes and the three methods side by side; writes JSON.

    python benchmarks/digits.py --minutes 15 --json benchmarks/results/digits.json
"""

import argparse
import sys

from dvtex.eval.cli import main as dvtex_eval


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0, help="training minutes per network (default 15)")
    p.add_argument("--every", type=float, default=2.5, help="minutes between judgements of the DVAE (default 2.5)")
    p.add_argument("--workdir", default="runs/bench-digits")
    p.add_argument("--json", default="benchmarks/results/digits.json")
    args = p.parse_args()
    return dvtex_eval(["digits", "--minutes", str(args.minutes), "--schedule", "cosine",
                       "--snapshot-every", str(args.every), "--out", args.workdir, "--json", args.json])


if __name__ == "__main__":
    sys.exit(main())
