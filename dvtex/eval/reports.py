"""What an evaluation shows: tables on stderr and contact sheets (labelled rows of frames) as PNG."""

import numpy as np

from dvtex.fileio import atomic_path


def contact_sheet(rows, path, columns=10, stride=3, min_side=96, label_width=110):
    """Labelled rows of uint8 frames (T, H, W, C), `columns` frames `stride` apart each, one PNG."""
    from PIL import Image, ImageDraw

    count = min(columns, *(len(f) // stride for f in rows.values()))
    strip = lambda f: np.concatenate([f[i * stride] for i in range(count)], axis=1)  # noqa: E731
    sheet = np.concatenate([strip(np.repeat(f, 3, axis=3) if f.shape[3] == 1 else f) for f in rows.values()], axis=0)
    side = next(iter(rows.values())).shape[1]
    scale = max(1, min_side // side)
    frames = Image.fromarray(sheet).resize((sheet.shape[1] * scale, sheet.shape[0] * scale), Image.NEAREST)
    img = Image.new("RGB", (frames.width + label_width, frames.height), "white")
    img.paste(frames, (label_width, 0))
    draw = ImageDraw.Draw(img)
    for i, label in enumerate(rows):
        draw.text((6, i * side * scale + side * scale // 2 - 6), label, fill="black")
    with atomic_path(path, ".png") as tmp:
        img.save(tmp)


def print_table(rows, keys, log):
    fmt = lambda v: "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    width = max(len(r["name"]) for r in rows) + 2
    cols = [max(len(k) + 2, 10) for k in keys]
    log("".join([" " * width] + [k.rjust(c) for k, c in zip(keys, cols)]))
    for r in rows:
        log("".join([r["name"].ljust(width)] + [fmt(r.get(k)).rjust(c) for k, c in zip(keys, cols)]))
