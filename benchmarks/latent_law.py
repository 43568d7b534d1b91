"""Where a DVAE's encoder puts its training frames, against where the process it plays goes.

The player runs h <- A h + B v, whose stationary law is N(0, I): states of norm about sqrt(n) (3.2 at
n = 10). A decoder learns to draw frames from the states its encoder gives the training pairs; if
those lie elsewhere, what is played was never reconstructed. For each checkpoint this prints the
encoder means' norm, their distance from N(0, I) (the prior term's figure, dvtex.train.objective)
and their spread per dimension, over the model's own training pairs.

--score also plays each model four ways from the same stored initial state and the same noise, and
scores them against its source as the texture benchmarks do (KID, SWD, motion ratio, copy ratio):
  as_played            innovations v ~ N(0, I), as dvtex plays it;
  encoder_innovations  v ~ N(mean, cov) of the training pairs' encoded v halves (what the
                       decoder's second frame was trained on);
  encoded_states       the played process mapped onto the encoded states' law: h = mean_h + S u,
                       S S^T = cov_h, u the process as played (N(0, I) becomes N(mean_h, cov_h));
  learnt_A_encoded_law the learnt A kept, with the drift and innovation covariance that make the
                       encoded states' law stationary: h <- A h + (I - A) mean_h + w,
                       w ~ N(0, cov_h - A cov_h A^T) (its negative eigenvalues, if any, set to 0).

    python benchmarks/latent_law.py runs/bench-sharp-six/*-sharp*.pt --json benchmarks/results/latent-law.json
    python benchmarks/latent_law.py runs/bench-sharp-six/*-sharp.pt --score --json benchmarks/results/latent-law-play.json

--holes asks where a model's broken frames come from. It decodes states of the played law N(0, I), of
the law the decoder is trained on (the aggregate posterior: N(m, S) with S the encoder means'
covariance plus their mean posterior variance) and the training pairs' own posterior draws. A frame
is broken when somewhere (an 8 x 8 cell) it is further from every training frame's same cell than any
of the source's even frames is from all of its odd ones (local_novelty). It prints the share of broken
frames of each, S's eigenvalues, and how far broken states lie along each of S's directions; the JSON
adds the mean posterior variance per coordinate and the median distance from each training pair's
encoder mean to its nearest neighbour's (how far apart the posteriors the decoder is taught on lie).
It then scores the played frames three ways: as played, with each broken frame replaced by the one
before it (what the broken frames cost), and on the aggregate law (h = m + S^(1/2) u, u the process
as played). Beside each checkpoint it writes NAME-holes.png: the 12
played frames that are most unlike the training frames somewhere, most unlike first.

    python benchmarks/latent_law.py runs/diag/*.pt --holes --json benchmarks/results/holes-fire-3000.json
"""

import argparse
import json
import os
import sys

from common import write_result


def trained_on(ckpt):
    """The checkpoint's model (eval) and its training sequences, loaded as training loaded them."""
    from dvtex.train.checkpoint import build_model
    from dvtex.train.config import TrainConfig
    from dvtex.train.data import load_sequences

    model = build_model(ckpt).eval()
    config = TrainConfig.from_dict(ckpt["train_config"])
    return model, load_sequences(config.sources, model.cfg.frame_shape, seed=config.seed,
                                 grey=model.cfg.channels == 1)


def encoded_pairs(model, seqs, limit=None):
    """The encoder's means and log-variances of x = (x1, x2), (k, 2n) each, for `limit` of the training
    pairs spread evenly over them, or for every pair."""
    import torch

    from dvtex.train.data import FramePairs

    pairs = FramePairs(seqs, torch.device("cpu"))
    idx = torch.arange(len(pairs)) if limit is None else \
        torch.linspace(0, len(pairs) - 1, min(limit, len(pairs))).long()
    y, _ = pairs.batch(idx)
    with torch.no_grad():
        return model.encode(y)


def encoded_states(model, seqs, limit=512):
    """The encoder means x = (x1, x2) of up to `limit` of the training pairs, (k, 2n)."""
    return encoded_pairs(model, seqs, limit)[0].double(), model.cfg.n


def aggregate_law(model, seqs):
    """The states the decoder is trained on, as a Gaussian: the mean m of the encoder means h of all the
    training pairs and S = cov(h) + mean posterior variance; (m, S, h, the posterior variances), float64
    numpy."""
    import numpy as np

    mu, logvar = (t[:, :model.cfg.n].double().numpy() for t in encoded_pairs(model, seqs))
    return mu.mean(0), np.cov(mu.T) + np.diag(np.exp(logvar).mean(0)), mu, np.exp(logvar)


def local_novelty(frames, real, block=8):
    """How unlike the real frames each frame (T, H, W, C) uint8 is where it is most unlike them: for each
    block x block cell, the RMS distance (grey levels) to the nearest real frame's same cell; the largest
    over the cells. A row of dots across an otherwise good frame scores high; a frame's RMS distance to
    its nearest real frame, over the whole frame, barely moves."""
    import numpy as np
    import torch

    def cells(f):
        t = torch.from_numpy(np.ascontiguousarray(f)).float()
        T, H, W, C = t.shape
        t = t.reshape(T, H // block, block, W // block, block, C).permute(1, 3, 0, 2, 4, 5)
        return t.reshape((H // block) * (W // block), T, block * block * C)

    fake, ref = cells(frames), cells(real)
    worst = torch.stack([torch.cdist(f, r).min(1).values for f, r in zip(fake, ref)]).max(0).values
    return (worst / fake.shape[2] ** 0.5).numpy()


def holes(path, fid_frames, seed=0, draws=4000):
    """Where a model's broken frames come from: see --holes in this module's docstring."""
    import numpy as np

    from dvtex.dynamics import played_pair, sample_path
    from dvtex.eval.reports import contact_sheet
    from dvtex.eval.scoring import Scorer
    from dvtex.train.checkpoint import load_checkpoint
    from dvtex.train.synthesis import decode_frames

    ckpt = load_checkpoint(path)
    if ckpt.get("method", "dvae") != "dvae":
        return None
    model, seqs = trained_on(ckpt)
    real, n = seqs[0].frames, model.cfg.n
    mean, cov, mu, var = aggregate_law(model, seqs)
    w, V = np.linalg.eigh(cov)
    root = (V * np.sqrt(w)) @ V.T
    rng = np.random.default_rng([seed, 3])
    z = rng.standard_normal((draws, n))
    limit = float(local_novelty(real[::2], real[1::2]).max())

    def broken_of(states):
        return local_novelty(decode_frames(model, states), real) > limit

    broken = broken_of(z)
    c = np.abs(z @ V)  # (draws, n): each state's size along S's eigen-directions, narrowest first
    gaps = np.linalg.norm(mu[:, None] - mu[None], axis=2) + np.diag(np.full(len(mu), np.inf))
    aggregate = mean + rng.standard_normal((draws, n)) @ root
    posterior = mu + np.sqrt(var) * rng.standard_normal(mu.shape)
    row = {"model": os.path.basename(path), "broken_limit": limit, "aggregate_eigenvalues": w.tolist(),
           "posterior_variance": var.mean(0).tolist(), "neighbour_distance": float(np.median(gaps.min(1))),
           "broken_share": {"process": float(broken.mean()), "aggregate_law": float(broken_of(aggregate).mean()),
                            "posterior_draws": float(broken_of(posterior).mean())},
           "broken_along_direction": (c[broken].mean(0) / c.mean(0)).tolist() if broken.any() else None}
    A, B = played_pair(*(p.detach().double().numpy() for p in (model.A, model.B)))
    h0 = ckpt["h0"][seed % len(ckpt["h0"])].double().numpy()
    h = sample_path(A, B, h0, len(real), np.random.default_rng(seed))
    played_frames = decode_frames(model, h)
    held = played_frames.copy()
    novelty = local_novelty(played_frames, real)
    played_broken = novelty > limit
    sheet = os.path.splitext(path)[0] + "-holes.png"
    contact_sheet({"most novel": played_frames[np.argsort(-novelty)[:12]]}, sheet, columns=12, stride=1)
    for t in range(1, len(held)):
        if played_broken[t]:
            held[t] = held[t - 1]
    u = sample_path(A, B, np.linalg.solve(root, h0 - mean), len(real), np.random.default_rng(seed))
    scorer = Scorer(real, fid_frames, print)
    for name, frames in (("as_played", played_frames), ("broken_held", held),
                         ("aggregate_law", decode_frames(model, mean + u @ root))):
        s = scorer(frames)
        row[name] = {k: s[k] for k in ("kid", "swd", "motion_ratio", "copy_ratio")}
    row["as_played"]["broken_frames"] = int(played_broken.sum())
    print(f"{row['model']}: " + json.dumps({k: row[k] for k in ("broken_share", "as_played", "broken_held",
                                                                 "aggregate_law")}), flush=True)
    return row


LAWS = ("as_played", "encoder_innovations", "encoded_states", "learnt_A_encoded_law")


def played(A, B, h0, z, mean, factor):
    """h_0 .. h_T from h0 with innovations v_t = mean + factor z_t: (T + 1, n)."""
    import numpy as np

    h = np.empty((len(z) + 1, len(h0)))
    h[0] = h0
    for t, zt in enumerate(z):
        h[t + 1] = A @ h[t] + B @ (mean + factor @ zt)
    return h


def score_laws(path, fid_frames, seed=0):
    """The model played under each of LAWS from the same state and noise: their scores, side by side."""
    import numpy as np

    from dvtex.dynamics import played_pair
    from dvtex.eval.scoring import Scorer
    from dvtex.train.checkpoint import load_checkpoint
    from dvtex.train.synthesis import decode_frames

    ckpt = load_checkpoint(path)
    if ckpt.get("method", "dvae") != "dvae":
        return None
    model, seqs = trained_on(ckpt)
    real = seqs[0].frames
    x, n = encoded_states(model, seqs)
    states, v = x[:, :n].numpy(), x[:, n:].numpy()
    mean, cov = v.mean(0), np.cov(v.T)
    factor = np.linalg.cholesky(cov + 1e-9 * np.eye(n))
    A, B = played_pair(*(p.detach().double().numpy() for p in (model.A, model.B)))
    h0 = ckpt["h0"][seed % len(ckpt["h0"])].double().numpy()
    mean_h, cov_h = states.mean(0), np.cov(states.T) + 1e-9 * np.eye(n)
    root_h = np.linalg.cholesky(cov_h)
    z = np.random.default_rng(seed).standard_normal((len(real) - 1, n))
    scorer = Scorer(real, fid_frames, print)
    row = {"model": os.path.basename(path), "frames": len(real), "encoded_state_norm": float(np.linalg.norm(states, axis=1).mean()),
           "innovation_mean_norm": float(np.linalg.norm(mean)), "innovation_std": [float(v.std(0).min()), float(v.std(0).max())]}
    lam, vec = np.linalg.eigh(cov_h - A @ cov_h @ A.T)
    row["negative_innovation_variance"] = float(-lam[lam < 0].sum())
    root_q = vec * np.sqrt(np.clip(lam, 0, None))
    for name in LAWS:
        if name == "learnt_A_encoded_law":
            h = played(A, np.eye(n), h0, z, mean_h - A @ mean_h, root_q)
        elif name == "encoded_states":
            u = played(A, B, np.linalg.solve(root_h, h0 - mean_h), z, np.zeros(n), np.eye(n))
            h = mean_h + u @ root_h.T
        else:
            h = played(A, B, h0, z, *((np.zeros(n), np.eye(n)) if name == "as_played" else (mean, factor)))
        fake = decode_frames(model, h)
        scores = scorer(fake)
        row[name] = {"kid": scores["kid"], "swd": scores["swd"], "copy_ratio": scores.get("copy_ratio"),
                     "motion_ratio": scores["motion_ratio"], "state_norm": float(np.linalg.norm(h, axis=1).mean())}
        print(f"{row['model']} {name}: " + ", ".join(f"{k} {v:.4g}" for k, v in row[name].items() if v is not None), flush=True)
    return row


def law(path):
    import torch

    from dvtex.train.checkpoint import load_checkpoint
    from dvtex.train.objective import prior_mismatch

    ckpt = load_checkpoint(path)
    if ckpt.get("method", "dvae") != "dvae":
        return None
    x, n = encoded_states(*trained_on(ckpt))
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
    p.add_argument("--score", action="store_true", help="play each model with N(0, I) innovations and with the "
                                                        "encoder's, and score both")
    p.add_argument("--fid-frames", type=int, default=100)
    p.add_argument("--holes", action="store_true", help="where the broken played frames come from: decode "
                                                        "states of the played and the trained-on law, and score")
    args = p.parse_args()
    import torch

    torch.manual_seed(0)
    if args.holes:
        rows = [r for r in (holes(path, args.fid_frames) for path in args.checkpoints) if r is not None]
        print("| model | broken: process / aggregate law / posterior draws | narrowest eigenvalues | KID x1000: "
              "as played / broken held / aggregate law | motion ratio |")
        print("| --- | --- | --- | --- | --- |")
        for r in rows:
            ways = ("as_played", "broken_held", "aggregate_law")
            print(f"| {r['model']} | " + " / ".join(f"{100 * v:.1f}%" for v in r["broken_share"].values())
                  + " | " + ", ".join(f"{v:.2f}" for v in r["aggregate_eigenvalues"][:3]) + " | "
                  + " / ".join(f"{1000 * r[w]['kid']:.0f}" if r[w]["kid"] is not None else "-" for w in ways) + " | "
                  + " / ".join(f"{r[w]['motion_ratio']:.2f}" for w in ways) + " |")
        write_result(args.json, {"benchmark": "latent-holes", "results": rows})
        return
    if args.score:
        rows = [r for r in (score_laws(path, args.fid_frames) for path in args.checkpoints) if r is not None]
        laws = LAWS
        print("| model | KID x1000: " + " / ".join(laws) + " | SWD | motion ratio | "
              "copy ratio | state norm |")
        print("| --- | --- | --- | --- | --- | --- |")
        for r in rows:
            cells = [" / ".join(f"{1000 * r[law]['kid']:.0f}" if r[law]["kid"] is not None else "-" for law in laws)]
            cells += [" / ".join(f"{r[law][k]:.2f}" for law in laws) for k in ("swd", "motion_ratio", "copy_ratio",
                                                                               "state_norm")]
            print(f"| {r['model']} | " + " | ".join(cells) + " |")
        write_result(args.json, {"benchmark": "latent-law-play", "results": rows})
        return
    rows = [r for r in map(law, args.checkpoints) if r is not None]
    keys = ["prior", "state_norm", "process_norm", "mean_norm", "std_min", "std_max", "covariance_from_identity"]
    print("| model | " + " | ".join(keys) + " |")
    print("| --- |" + " ---: |" * len(keys))
    for r in rows:
        print(f"| {r['model']} | " + " | ".join(str(r[k]) for k in keys) + " |")
    write_result(args.json, {"benchmark": "latent-law", "results": rows})


if __name__ == "__main__":
    sys.exit(main())
