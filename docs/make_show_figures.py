"""Make README's pictures of a programmed show: docs/crossfade.png (a playlist fading from one model to
another, every other frame) and docs/loop-seam.png (a perfect loop's last frames, then its first, and
every frame-to-frame difference of the loop with the seam marked).

    dvtex-train procedural:water --method lds -o runs/water-lds.pt && dvtex-export runs/water-lds.pt
    python docs/make_show_figures.py player/demo/fire64.onnx runs/water-lds.onnx
"""

import argparse

import numpy as np
from PIL import Image, ImageDraw

from dvtex.player.playlist import Playlist
from dvtex.player.source import FrameSource


def strip(frames, scale, gap=2):
    h, w, _ = frames[0].shape
    out = np.full((h, len(frames) * (w + gap) - gap, 3), 255, np.uint8)
    for i, f in enumerate(frames):
        out[:, i * (w + gap):i * (w + gap) + w] = f
    img = Image.fromarray(out)
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST)


def crossfade(a, b, path, scale):
    playlist = Playlist([FrameSource.open(m, provider="cpu") for m in (a, b)], 10, switch_every=1.0, crossfade=1.0,
                        log=lambda m: None)
    frames = [playlist.produce(np.zeros(playlist.frame_shape, np.uint8)).copy() for _ in range(24)]
    strip(frames[6:24:2], scale).save(path)  # before, during (frames 10-19) and after the fade


def loop_seam(model, path, scale, frames=48):
    source = FrameSource.open(model, provider="cpu", loop=frames, seed=0)
    loop = [source.produce(np.zeros(source.frame_shape, np.uint8)).copy() for _ in range(frames)]
    top = strip(loop[-4:] + loop[:4], scale)
    diffs = [np.abs(loop[(i + 1) % frames].astype(float) - loop[i]).mean() for i in range(frames)]
    plot = Image.new("RGB", (top.width, 90), "white")
    draw = ImageDraw.Draw(plot)
    peak = max(diffs) * 1.1
    for i, d in enumerate(diffs):
        x = int((i + 0.5) * top.width / frames)
        draw.line([(x, 80), (x, 80 - int(70 * d / peak))], fill="red" if i == frames - 1 else "grey", width=4)
    draw.text((4, 2), "frame-to-frame change around the loop; red: the seam (last frame -> first)", fill="black")
    out = Image.new("RGB", (top.width, top.height + plot.height), "white")
    out.paste(top, (0, 0))
    out.paste(plot, (0, top.height))
    ImageDraw.Draw(out).line([(top.width // 2, 0), (top.width // 2, top.height)], fill="red", width=2)
    out.save(path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("first")
    p.add_argument("second")
    p.add_argument("--scale", type=int, default=2)
    args = p.parse_args()
    crossfade(args.first, args.second, "docs/crossfade.png", args.scale)
    loop_seam(args.first, "docs/loop-seam.png", args.scale)
    print("wrote docs/crossfade.png and docs/loop-seam.png")


if __name__ == "__main__":
    main()
