"""Training speed: the reference implementation's recipe against dvtex's, same architecture, one run.

  reference: one frame pair per step, 128 Monte-Carlo samples, Adam lr 1e-4 (alexandersagel/DynamicVAE)
  dvtex:     mini-batches of pairs, one reparameterised sample each, Adam lr 1e-3

Each trains for --seconds of wall time on digits:01234 (mnist32, width 32). Every few seconds the
clock stops and one estimator, the negative ELBO with 16 samples and fixed noise, is evaluated on
the same held-out pairs. The target is the best held-out loss the reference reaches; the figure is
how much sooner dvtex gets there. Prints a table and writes JSON.

    python benchmarks/train.py --seconds 240 --json benchmarks/results/train.json
"""

import argparse
import time

import torch
from common import write_result

from dvtex.train.data import FramePairs, load_sequences
from dvtex.train.model import DVAE, DVAEConfig
from dvtex.train.loop import train_step

RECIPES = {
    "reference": dict(batch=1, samples=128, lr=1e-4),
    "dvtex": dict(batch=64, samples=1, lr=1e-3),
}


@torch.no_grad()
def heldout_loss(model, y):
    """-ELBO per pair (rec + KL + penalty), 16 samples, fixed noise: the same estimator for both."""
    model.eval()
    with torch.random.fork_rng():
        torch.manual_seed(1234)
        loss = model(y, samples=16)["loss"].item()
    model.train()
    return loss


def run_recipe(name, recipe, pairs, heldout, seconds, eval_every, seed=0):
    torch.manual_seed(seed)
    model = DVAE(DVAEConfig.from_preset("mnist32", width=32, channels=1))
    opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    gen = torch.Generator().manual_seed(seed)
    curve, trained, steps = [(0.0, heldout_loss(model, heldout))], 0.0, 0
    while trained < seconds:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < eval_every:
            y, _ = pairs.batch(torch.randint(len(pairs), (recipe["batch"],), generator=gen))
            train_step(model, opt, y, samples=recipe["samples"])
            steps += 1
        trained += time.perf_counter() - t0
        curve.append((trained, heldout_loss(model, heldout)))
        print(f"  {name:>9} {trained:6.0f} s  step {steps:6d}  held-out -ELBO {curve[-1][1]:9.2f}", flush=True)
    return {"recipe": recipe, "steps": steps, "pairs_per_s": steps * recipe["batch"] / trained, "curve": curve}


def time_to_reach(curve, target):
    return next((t for t, loss in curve if loss <= target), None)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=240, help="training seconds per recipe (default 240)")
    p.add_argument("--eval-every", type=float, default=10, help="seconds between held-out evaluations")
    p.add_argument("--json", default="benchmarks/results/train.json")
    args = p.parse_args()
    pairs = FramePairs(load_sequences(["digits:01234:2000"], 32, seed=0))
    held = FramePairs(load_sequences(["digits:01234:257"], 32, seed=99))
    heldout, _ = held.batch(torch.arange(len(held)))
    results = {name: run_recipe(name, r, pairs, heldout, args.seconds, args.eval_every) for name, r in RECIPES.items()}
    target = min(loss for _, loss in results["reference"]["curve"])
    t_ref = time_to_reach(results["reference"]["curve"], target)
    t_dvtex = time_to_reach(results["dvtex"]["curve"], target)
    speedup = t_ref / t_dvtex if t_dvtex else None
    print(f"\n{'recipe':>10} {'pairs/s':>9} {'steps':>8} {'best -ELBO':>11} {'s to target':>12}")
    for name, r in results.items():
        best = min(loss for _, loss in r["curve"])
        reach = time_to_reach(r["curve"], target)
        print(f"{name:>10} {r['pairs_per_s']:>9.0f} {r['steps']:>8d} {best:>11.2f} "
              f"{('%.0f' % reach) if reach is not None else 'never':>12}")
    print(f"target = reference's best held-out -ELBO {target:.2f}; dvtex reaches it "
          + (f"{speedup:.1f}x sooner (bar: 5x)" if speedup else "not within its budget"))
    result = {"benchmark": "train", "target_loss": target, "speedup_to_target": speedup, "bar": 5.0,
              "passed": bool(speedup and speedup >= 5), "seconds_per_recipe": args.seconds, "recipes": results}
    write_result(args.json, result)


if __name__ == "__main__":
    main()
