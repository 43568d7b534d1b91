"""Make the README's pictures from the bundled demo model: docs/fire.gif (training frames | dvtex).

    python docs/make_figures.py models/fire64.onnx
"""

import argparse

import numpy as np
from PIL import Image

from dvtex.player import TextureStream
from dvtex.train.textures import simulate


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--out", default="docs/fire.gif")
    p.add_argument("--frames", type=int, default=72)
    p.add_argument("--scale", type=int, default=3)
    args = p.parse_args()
    with TextureStream(args.model, seed=0, provider="cpu") as tex:
        made = [tex.next_frame() for _ in range(args.frames)]
        size, fps = tex.info.width, tex.info.fps
    real = simulate("fire", args.frames, size, seed=123)  # a realisation the model never saw
    gap = np.full((size, 2, 3), 255, np.uint8)
    images = []
    for a, b in zip(real, made):
        pair = Image.fromarray(np.concatenate([a, gap, b], axis=1))
        pair = pair.resize((pair.width * args.scale, pair.height * args.scale), Image.BILINEAR)
        images.append(pair.quantize(colors=255, method=Image.Quantize.MEDIANCUT))
    images[0].save(args.out, save_all=True, append_images=images[1:], loop=0, duration=round(1000 / fps))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
