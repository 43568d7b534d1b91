"""Where a DVAE's encoder puts its training frames, against where the process it plays goes.

The player runs h <- A h + B v, whose stationary law is N(0, I): states of norm about sqrt(n) (3.2 at
n = 10). A decoder learns to draw frames from the states its encoder gives the training pairs; if
those lie elsewhere, what is played was never reconstructed. For each checkpoint this prints the
encoder means' norm, their distance from N(0, I) (the prior term's figure, dvtex.train.objective)
and their spread per dimension, over the model's own training pairs.

    python benchmarks/latent_law.py runs/bench-sharp-six/*-sharp*.pt --json benchmarks/results/latent-law.json
"""

import argparse
import os
import sys

from common import write_result


def encoded_states(ckpt, limit=512):
    """The encoder means x = (x1, x2) of up to `limit` of the checkpoint's training pairs, (k, 2n)."""
    import torch

    from dvtex.train.checkpoint import build_model
    from dvtex.train.config import TrainConfig
    from dvtex.train.data import FramePairs, load_sequences

    model = build_model(ckpt).eval()
    config = TrainConfig.from_dict(ckpt["train_config"])
    seqs = load_sequences(config.sources, model.cfg.frame_shape, seed=config.seed, grey=model.cfg.channels == 1)
    pairs = FramePairs(seqs, torch.device("cpu"))
    idx = torch.linspace(0, len(pairs) - 1, min(limit, len(pairs))).long()
    y, _ = pairs.batch(idx)
    with torch.no_grad():
        return model.encode(y)[0].double(), model.cfg.n


def law(path):
    import torch

    from dvtex.train.checkpoint import load_checkpoint
    from dvtex.train.objective import prior_mismatch

    ckpt = load_checkpoint(path)
    if ckpt.get("method", "dvae") != "dvae":
        return None
    x, n = encoded_states(ckpt)
    x1 = x[:, :n]
    cov = torch.cov(x.T)
    return {"model": os.path.basename(path), "prior": ckpt["config"].get("prior", 0.0), "n": n,
            "state_norm": round(x1.norm(dim=1).mean().item(), 2), "process_norm": round(n ** 0.5, 2),
            "mean_norm": round(x.mean(0).norm().item(), 2), "std_min": round(x.std(0).min().item(), 2),
            "std_max": round(x.std(0).max().item(), 2),
            "covariance_from_identity": round((cov - torch.eye(len(cov), dtype=cov.dtype)).norm().item(), 2),
            # shuffled: the pairs are in time order, and the estimate wants two independent halves
            "prior_mismatch": round(prior_mismatch(x[torch.randperm(len(x))]).item(), 2)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", help="DVAE checkpoints (.pt); other methods are skipped")
    p.add_argument("--json", default="benchmarks/results/latent-law.json")
    args = p.parse_args()
    import torch

    torch.manual_seed(0)
    rows = [r for r in map(law, args.checkpoints) if r is not None]
    keys = ["prior", "state_norm", "process_norm", "mean_norm", "std_min", "std_max", "covariance_from_identity"]
    print("| model | " + " | ".join(keys) + " |")
    print("| --- |" + " ---: |" * len(keys))
    for r in rows:
        print(f"| {r['model']} | " + " | ".join(str(r[k]) for k in keys) + " |")
    write_result(args.json, {"benchmark": "latent-law", "results": rows})


if __name__ == "__main__":
    sys.exit(main())
