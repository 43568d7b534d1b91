"""Make the README's pictures of the detail stage at the size it plays: docs/fire256.gif and a still,
docs/fire256.png, each with three columns: the source simulated at 256x256 (a realisation the models
never saw), the 64x64 demo upscaled bicubically, and the 256x256 demo (the same DVAE, the same states,
through its detail stage). Pixels as they are: nothing is rescaled after the models.

    python docs/make_detail_figures.py player/demo/fire64.onnx player/demo/fire256.onnx
"""

import argparse

import numpy as np
from PIL import Image

from dvtex.train.textures import simulate

from make_figures import played, side_by_side


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("small", help="the 64x64 model")
    p.add_argument("large", help="the same model with its detail stage")
    p.add_argument("--out", default="docs/fire256.gif")
    p.add_argument("--still", default="docs/fire256.png")
    p.add_argument("--frames", type=int, default=48)
    args = p.parse_args()
    small, _, fps = played(args.small, args.frames)  # the same seed: the same latent path in both
    large, size, _ = played(args.large, args.frames)
    bicubic = np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BICUBIC)) for f in small])
    real = simulate("fire", args.frames, size, seed=123)
    columns = side_by_side([real, bicubic, large], gap=4)
    images = [Image.fromarray(f).quantize(colors=255, method=Image.Quantize.MEDIANCUT) for f in columns]
    images[0].save(args.out, save_all=True, append_images=images[1:], loop=0, duration=round(1000 / fps))
    print(f"wrote {args.out}")
    rows = [columns[i] for i in (0, 12, 24)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.still)
    print(f"wrote {args.still}")


if __name__ == "__main__":
    main()
