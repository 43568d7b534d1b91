"""Make the README's pictures from bundled models: docs/fire.gif (training frames | each model, side by
side) and a still of the same, frames over time (docs/fire-before-after.png), pixels shown as they are.

    git show e8afbe1:player/demo/fire64.onnx > runs/fire64-paper.onnx   # the previous demo
    python docs/make_figures.py runs/fire64-paper.onnx player/demo/fire64.onnx
"""

import argparse

import numpy as np
from PIL import Image

from dvtex.player import TextureStream
from dvtex.train.textures import simulate


def played(model, frames):
    with TextureStream(model, seed=0, provider="cpu") as tex:
        return np.stack([tex.next_frame() for _ in range(frames)]), tex.info.width, tex.info.fps


def side_by_side(columns, gap=2):
    """Frames of several sequences (T, H, W, 3) each -> (T, H, W', 3) with white gaps between them."""
    t, h = columns[0].shape[:2]
    white = np.full((t, h, gap, 3), 255, np.uint8)
    parts = [columns[0]]
    for c in columns[1:]:
        parts += [white, c]
    return np.concatenate(parts, axis=2)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="one or more .onnx fire models, shown left to right after the source")
    p.add_argument("--out", default="docs/fire.gif")
    p.add_argument("--still", default="docs/fire-before-after.png", help="'' for none")
    p.add_argument("--frames", type=int, default=72)
    p.add_argument("--scale", type=int, default=3)
    args = p.parse_args()
    made = [played(m, args.frames) for m in args.models]
    size, fps = made[0][1], made[0][2]
    real = simulate("fire", args.frames, size, seed=123)  # a realisation the models never saw
    pairs = side_by_side([real, *[m[0] for m in made]])
    images = []
    for frame in pairs:
        image = Image.fromarray(frame)
        image = image.resize((image.width * args.scale, image.height * args.scale), Image.BILINEAR)
        images.append(image.quantize(colors=255, method=Image.Quantize.MEDIANCUT))
    images[0].save(args.out, save_all=True, append_images=images[1:], loop=0, duration=round(1000 / fps))
    print(f"wrote {args.out}")
    if args.still:  # rows: source, then each model; columns: every 6th frame; nearest: the real pixels
        rows = [np.concatenate(list(seq[:48:6]), axis=1) for seq in (real, *[m[0] for m in made])]
        still = Image.fromarray(np.concatenate(rows, axis=0))
        still.resize((still.width * 2, still.height * 2), Image.NEAREST).save(args.still)
        print(f"wrote {args.still}")


if __name__ == "__main__":
    main()
