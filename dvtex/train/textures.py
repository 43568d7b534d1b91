"""Procedural dynamic textures that dvtex simulates itself: `fire`, `water` and `lights`.

Each is a small stochastic simulation, not a loop of stored frames: the same seed gives the same
frames, another seed another realisation of the same process. They run at any resolution; space
and time constants are scaled with the frame size so a texture looks alike at 32 and at 256 pixels.
numpy only.
"""

import numpy as np

TEXTURES = ("fire", "water", "lights")
TEXTURE_FPS = 24.0


def simulate(name, frames, size, seed=0):
    """Simulate `frames` frames of texture `name` at size x size: uint8 (T, H, W, 3)."""
    if name not in TEXTURES:
        raise ValueError(f"unknown texture {name!r}; choose from {', '.join(TEXTURES)}")
    rng = np.random.default_rng(seed)
    step = {"fire": _fire, "water": _water, "lights": _lights}[name]
    return step(frames, size, rng)


def _smooth_noise(rng, shape, cells):
    """Value noise: a coarse random grid upsampled bilinearly, values in [0, 1]."""
    gh, gw = max(2, shape[0] // cells), max(2, shape[1] // cells)
    grid = rng.random((gh + 1, gw + 1))
    ys = np.linspace(0, gh, shape[0], endpoint=False)
    xs = np.linspace(0, gw, shape[1], endpoint=False)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _fire_palette():
    """256-entry black -> red -> orange -> yellow -> white colour map."""
    t = np.linspace(0, 1, 256)
    r = np.clip(t * 2.2, 0, 1)
    g = np.clip((t - 0.35) * 2.0, 0, 1)
    b = np.clip((t - 0.75) * 4.0, 0, 1)
    return (np.stack([r, g, b], axis=1) * 255).astype(np.uint8)


def _fire(frames, size, rng):
    """Heat rises from a flickering fuel bed, spreads sideways, and cools by a drifting noise field."""
    h = w = size
    steps_per_frame = max(1, size // 32)
    cool_scale = 64.0 / size  # the same flame height, as a fraction of the frame, at any size
    heat = np.zeros((h + 1, w))
    fuel = rng.random(w)
    pot = np.exp(-(((np.arange(w) - w / 2) / (0.3 * w)) ** 2))  # a fire pot: the bed is hottest in the middle
    cooling_map = _smooth_noise(rng, (2 * h, w), max(2, size // 12))
    out = np.empty((frames, h, w, 3), np.uint8)
    palette = _fire_palette()
    offset, sway = 0, 0.0
    warm_up = 2 * h
    for i in range(warm_up + frames * steps_per_frame):
        fuel = np.clip(0.8 * fuel + 0.2 * rng.random(w) + 0.15 * (rng.random(w) < 0.02), 0, 1)
        heat[-1] = np.clip(fuel * pot * 1.6, 0, 1)
        sway = 0.97 * sway + 0.3 * rng.standard_normal()  # a gust bends the whole flame
        below = np.roll(heat[1:], int(round(np.clip(sway, -1, 1) * rng.random())), axis=1)
        spread = 0.25 * np.roll(below, 1, axis=1) + 0.5 * below + 0.25 * np.roll(below, -1, axis=1)
        offset = (offset + 1) % (2 * h)
        rows = (np.arange(h) + offset) % (2 * h)
        cooling = cool_scale * (0.008 + 0.035 * cooling_map[rows] ** 2)
        heat[:-1] = np.maximum(spread - cooling - 0.01 * cool_scale * rng.random((h, w)), 0)
        t = i - warm_up
        if t >= 0 and (t + 1) % steps_per_frame == 0:
            out[t // steps_per_frame] = palette[(np.clip(heat[:-1], 0, 1) * 255).astype(np.uint8)]
    return out


def _laplacian(u):
    return np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, 1) + np.roll(u, -1, 1) - 4 * u


def _water(frames, size, rng):
    """A damped 2-D wave equation on a periodic pond, excited by random drops, shaded by its normals."""
    n = size
    steps_per_frame = max(2, size // 16)
    c2, damping = 0.24, 0.004 * 64 / size  # c2 < 0.5 keeps the explicit scheme stable
    u = np.zeros((n, n))
    u_prev = np.zeros((n, n))
    yy, xx = np.mgrid[0:n, 0:n]
    radius = max(1.0, 0.035 * n)
    light = np.array([-0.5, -0.6, 0.62])
    light /= np.linalg.norm(light)
    deep, shallow = np.array([10, 45, 90.0]), np.array([60, 150, 200.0])
    out = np.empty((frames, n, n, 3), np.uint8)
    warm_up = 40
    for t in range(-warm_up, frames):
        for _ in rng.random(rng.poisson(0.35)):  # Poisson drops per frame
            cy, cx = rng.random(2) * n
            dy = (yy - cy + n / 2) % n - n / 2
            dx = (xx - cx + n / 2) % n - n / 2
            u += rng.uniform(0.6, 1.4) * np.exp(-(dy**2 + dx**2) / (2 * radius**2))
        for _ in range(steps_per_frame):
            u, u_prev = 2 * u - u_prev + c2 * _laplacian(u) - damping * (u - u_prev), u
        if t < 0:
            continue
        gy = (np.roll(u, -1, 0) - np.roll(u, 1, 0)) * (n / 16)
        gx = (np.roll(u, -1, 1) - np.roll(u, 1, 1)) * (n / 16)
        norm = np.sqrt(gx**2 + gy**2 + 1)
        diffuse = np.clip((-gx * light[0] - gy * light[1] + light[2]) / norm, 0, 1)
        specular = diffuse**24
        mix = np.clip(0.5 + 0.8 * u, 0, 1)[..., None]
        rgb = (deep * (1 - mix) + shallow * mix) * (0.55 + 0.45 * diffuse[..., None]) + 255 * specular[..., None]
        out[t] = np.clip(rgb, 0, 255).astype(np.uint8)
    return out


def _lights(frames, size, rng):
    """Flashing lamps: each an on/off Markov chain with soft attack and decay, glowing on a dark wall."""
    n = size
    count = 12
    pos = rng.random((count, 2)) * 0.8 * n + 0.1 * n
    hue = rng.integers(0, 4, count)
    colours = np.array([[255, 80, 40], [255, 200, 60], [60, 160, 255], [120, 255, 120]], float)[hue]
    p_on, p_off = rng.uniform(0.04, 0.15, count), rng.uniform(0.05, 0.2, count)
    state = rng.random(count) < 0.5
    level = state.astype(float)
    yy, xx = np.mgrid[0:n, 0:n]
    d2 = (yy[None] - pos[:, 0, None, None]) ** 2 + (xx[None] - pos[:, 1, None, None]) ** 2  # (K, H, W)
    core = np.exp(-d2 / (2 * (0.03 * n) ** 2))
    glow = np.exp(-d2 / (2 * (0.12 * n) ** 2))
    spots = (core + 0.35 * glow)[..., None] * colours[:, None, None, :]  # (K, H, W, 3)
    wall = np.array([14, 12, 20.0])
    out = np.empty((frames, n, n, 3), np.uint8)
    for t in range(frames):
        flip = rng.random(count) < np.where(state, p_off, p_on)
        state ^= flip
        level += np.where(state, 0.6, 0.25) * (state - level)  # fast attack, slower decay
        rgb = wall + np.tensordot(level, spots, axes=1) + 3 * rng.standard_normal((n, n, 1))
        out[t] = np.clip(rgb, 0, 255).astype(np.uint8)
    return out
