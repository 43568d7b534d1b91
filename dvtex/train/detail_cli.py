"""Add a detail stage to a trained DVAE: dvtex-train --detail model.pt --out-size 256 -o model256.pt

The stage turns the model's frames (64x64 on a CPU) into frames 2x or 4x as large, with detail learnt
from the model's own source loaded again at that size; the DVAE itself is not changed. dvtex-export
writes the result as one .onnx that decodes at the full size. The source must be at least as large
as --out-size (built-in textures are simulated at any size).
"""

import argparse
import os
import sys

from dvtex.errors import ArgumentParser, number, positive
from dvtex.train.detail import UPSAMPLES
from dvtex.train.detail_train import BANDS, DetailTrainConfig


def parse_args(argv):
    d = DetailTrainConfig()
    p = ArgumentParser(prog="dvtex-train --detail", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detail", required=True, metavar="CHECKPOINT", help="a DVAE checkpoint from dvtex-train")
    p.add_argument("-o", "--output", required=True, help="the checkpoint with the stage (.pt); the input is kept")
    p.add_argument("--out-size", type=int, default=d.out_size, help=f"output height, 2x or 4x the model's; the width keeps its aspect (default {d.out_size})")
    p.add_argument("--steps", type=int, default=d.steps, help=f"(default {d.steps})")
    p.add_argument("--batch", type=int, default=d.batch, help=f"crops per step (default {d.batch})")
    p.add_argument("--crop", type=int, default=d.crop, help="crop side at the model's size (default 32, or the model's side less 12)")
    p.add_argument("--lr", type=positive, default=d.lr, help=f"Adam, on a half cosine (default {d.lr:g})")
    p.add_argument("--pixel", type=number(0, 1e6), default=d.pixel, help=f"weight of the L1 error (default {d.pixel:g})")
    p.add_argument("--texture", type=number(0, 1e6), default=d.texture,
                   help=f"weight of the played frames' patch statistics (default {d.texture:g})")
    p.add_argument("--bands", choices=BANDS, default=d.bands,
                   help="the octaves those statistics compare: all, or only those finer than the model's size "
                        f"(fine) (default {d.bands})")
    p.add_argument("--width", type=int, default=d.width, help=f"the stage's channels (default {d.width})")
    p.add_argument("--upsample", choices=UPSAMPLES, default=d.upsample,
                   help="each 2x step: a sub-pixel convolution (shuffle), the same smoothed so that it cannot draw a "
                        f"2-pixel grid (filtered), or a nearest resize and a convolution (default {d.upsample})")
    p.add_argument("--noise", type=int, default=d.noise, help="channels of latent-driven noise the stage reads (default 0)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=d.device)
    args = vars(p.parse_args(argv))
    return DetailTrainConfig(checkpoint=args.pop("detail"), **args)


def main(argv):
    import torch

    from dvtex.train.detail import DetailConfig
    from dvtex.train.detail_train import train_detail

    config = parse_args(argv).validate()
    torch.set_num_threads(int(os.environ.get("DVTEX_THREADS", torch.get_num_threads())))
    ckpt = train_detail(config)
    detail = ckpt["detail"]
    height, width = DetailConfig(**detail["config"]).shape
    stopped = detail["stopped_by"]
    print(f"dvtex-train --detail: {f'stopped by {stopped}' if stopped else 'done'} at step {detail['step']} "
          f"({detail['minutes']:.1f} min); checkpoint {config.output}; dvtex-export {config.output} writes the "
          f"{width}x{height} model", file=sys.stderr)
    return 0
