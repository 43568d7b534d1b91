"""Learning from incomplete frames, the paper's third experiment, on this machine: a DVAE trained on
frames with half of their pixels missing (salt and pepper, then one rectangle) against a DVAE trained
on the full frames, all scored against the full frames, with `dvtex-eval incomplete` (the real CLI).

    python benchmarks/incomplete.py --steps 3000

The two masks share --workdir, so the full model is trained once (the second run reuses it). One JSON
per mask: benchmarks/results/incomplete-MASK.json.
"""

import argparse
import os
import sys

from dvtex.eval.cli import main as dvtex_eval
from dvtex.eval.tasks import mask_slug

MASKS = ["saltpepper:0.5", "rect:0.5"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", nargs="?", default="procedural:fire", help="default procedural:fire")
    p.add_argument("--steps", type=int, default=3000, help="training steps per network (default 3000)")
    p.add_argument("--fid-frames", type=int, default=100, help="frames per set for FID and KID (default 100)")
    p.add_argument("--workdir", default="runs/bench-incomplete")
    p.add_argument("--results", default="benchmarks/results")
    args = p.parse_args()
    for mask in MASKS:
        code = dvtex_eval(["incomplete", args.source, "--mask", mask, "--steps", str(args.steps), "--fid-frames",
                           str(args.fid_frames), "--out", args.workdir, "--reuse",
                           "--json", os.path.join(args.results, f"incomplete-{mask_slug(mask)}.json")])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
