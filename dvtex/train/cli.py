"""Train a Dynamic VAE on one or more videos: dvtex-train SOURCE... -o model.pt

Sources are video files, image folders, .npy arrays, digits:01234 or procedural:fire|water|lights.
Checkpoints are written atomically every --save-every steps and on exit, Ctrl-C or SIGTERM;
--resume goes on where a run stopped. Runs under torchrun (DistributedDataParallel) unchanged.

dvtex-train --detail model.pt --out-size 256 -o model256.pt adds a detail stage to a trained model:
frames 2x or 4x as large, with detail learnt from its source (dvtex-train --detail X --help).
"""

import argparse
import os
import sys

from dvtex.errors import ArgumentParser, cli_entry, number, positive
from dvtex.train.baselines import METHODS
from dvtex.train.checkpoint import load_config
from dvtex.train.config import TrainConfig, resumed
from dvtex.train.model import DECODERS, PRESETS
from dvtex.train.objective import RECIPES


def parse_args(argv):
    """Only the options given (argparse.SUPPRESS): --resume must tell a user's choice from a default."""
    p = ArgumentParser(prog="dvtex-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       argument_default=argparse.SUPPRESS)
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="video, image folder, .npy, digits:CYCLE or procedural:NAME")
    p.add_argument("-o", "--output", required=True, help="checkpoint path (.pt)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="the paper's Table 1 configurations (default cows64)")
    p.add_argument("--width", type=int, help="encoder/decoder width d (default 128, the paper's, on CUDA; 32 on a CPU)")
    p.add_argument("--encoder-width", type=int,
                   help="a narrower encoder than decoder: only training runs the encoder (default: half --width for "
                        "the paper recipe on a CPU, else --width)")
    p.add_argument("--recipe", choices=sorted(RECIPES),
                   help="paper: the preset's fixed sigma_y2, the ELBO alone; sharp: a learnt variance and the "
                        "played frames' patch and motion statistics (default paper)")
    p.add_argument("--decoder", choices=DECODERS,
                   help="each 2x step of the decoder: dcgan, the paper's transposed convolution, or resize, a nearest "
                        "resize and a 3x3 convolution (default dcgan)")
    p.add_argument("--sigma-y2", type=positive, help="fix the output variance (default: the recipe's)")
    p.add_argument("--texture", type=number(0, 1e6), help="weight of the patch statistics (default: the recipe's)")
    p.add_argument("--motion", type=number(0, 1e6), help="weight of the motion statistics (default: the recipe's)")
    p.add_argument("--prior", type=number(0, 1e6),
                   help="weight of the encoded states' distance from the process's N(0, I) (default: the recipe's)")
    p.add_argument("--regions", type=int, metavar="G",
                   help="compare the statistics' patches cell by cell on a G x G grid, so that each part of a scene "
                        "keeps its place (default 1: the whole frame)")
    p.add_argument("--regions-from", type=int, metavar="L",
                   help="cut only the pyramid levels from L on into those cells: 0 the finest octave, 3 the low-pass "
                        "rest; the finer octaves are compared over the whole frame (default 0: every level)")
    p.add_argument("--levels", type=int, metavar="K",
                   help="the texture term compares only the K finest pyramid levels: 1 to 3 band-pass octaves, leaving "
                        "the coarse layout to the reconstruction (default 4: the three octaves and the low-pass rest)")
    p.add_argument("--motion-levels", type=int, metavar="K",
                   help="the same for the motion term (default 4: every level, so that coarse flicker is seen)")
    p.add_argument("--statistics-from", type=int, metavar="STEP",
                   help="the texture and motion terms count only from this step on, the steps before train the "
                        "ELBO alone (default 0: from the first)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="train until this many steps in all (default 5000)")
    budget.add_argument("--minutes", type=positive, help="train for this many minutes")
    p.add_argument("--batch", type=int, help="frame pairs per step (default 32 for the paper recipe on a CPU, else 64)")
    p.add_argument("--lr", type=positive, help="Adam learning rate (default 1e-3)")
    p.add_argument("--lr-dynamics", type=positive,
                   help="learning rate of A and B (default 1e-2: 200 numbers with a weak, noisy gradient)")
    p.add_argument("--method", choices=METHODS,
                   help="dvae (default), or a baseline: vae+var (a VAE, then a fitted VAR), lds (Doretto's linear dynamic texture)")
    p.add_argument("--cosine", type=int, nargs="?", const=0, metavar="N",
                   help="decay the learning rates along a half cosine over N steps (no N: over the whole --steps/--minutes budget)")
    p.add_argument("--kl-warmup", type=int, help="steps over which the KL weight ramps from 0 to 1")
    p.add_argument("--mask", help="incomplete data: saltpepper:P, rect:P, or a mask video/folder (white = observed)")
    p.add_argument("--grey", action="store_true", help="train on grey frames even if the source is in colour")
    p.add_argument("--aspect", metavar="W:H",
                   help="frames of this aspect instead of a square centre crop, e.g. 16:9 (64x112 at cows64)")
    p.add_argument("--seed", type=int, help="(default 0)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="(default auto)")
    p.add_argument("--save-every", type=int, help="checkpoint every K steps (default 200)")
    p.add_argument("--preview-every", type=int, help="preview PNG every K steps, 0 for none (default 500)")
    p.add_argument("--resume", action="store_true", help="continue the run saved at -o (with its own recipe)")
    return vars(p.parse_args(argv))


def build_config(given):
    """The TrainConfig of a command line: the options given over TrainConfig's defaults; with
    --resume and an existing checkpoint, its stored recipe, and a contradicting option refused."""
    config = TrainConfig(**given)
    if config.resume and os.path.isfile(config.output):
        config = resumed(load_config(config.output), config, set(given))
    return config.validate()


@cli_entry("dvtex-train")
def main(argv=None):
    import signal

    import torch

    from dvtex.train.loop import train

    argv = sys.argv[1:] if argv is None else argv
    if any(a == "--detail" or a.startswith("--detail=") for a in argv):
        from dvtex.train.detail_cli import main as detail_main

        return detail_main(argv)
    config = build_config(parse_args(argv))
    torch.set_num_threads(int(os.environ.get("DVTEX_THREADS", torch.get_num_threads())))
    ckpt = train(config)
    if ckpt is None:  # another rank of a distributed run: rank 0 reports
        sys.exit(0)
    stopped = ckpt["stopped_by"]
    print(f"dvtex-train: {f'stopped by {stopped}' if stopped else 'done'} at step {ckpt['step']}; checkpoint "
          f"{config.output}" + ("; --resume continues it" if stopped else ""), file=sys.stderr)
    sys.exit(128 + getattr(signal, stopped) if stopped else 0)


if __name__ == "__main__":
    main()
