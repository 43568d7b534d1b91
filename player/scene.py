"""Scenes: the live state of a show (models, speed, gain, sound routes, seed, loop, playlist settings)
in a JSON or TOML file. The W key saves one; `--scene FILE` starts from one (options given on the
command line win); `/dvtex/scene i` recalls the i-th `--scene` live (speed, gain, routes, seed and,
in a playlist, its first model)."""

import datetime
import json
import math
import os

from dvtex.errors import UserError
from dvtex.fileio import write_json

FIELDS = {"models": list, "speed": float, "gain": float, "seed": int, "react": dict, "loop": int,
          "switch_every": float, "crossfade": float, "shuffle": bool}
ROUTES = ("gain", "kick", "speed")
RANGES = {"speed": (1 / 64, 64.0), "gain": (0.0, 3.0), "seed": (0, 2**63 - 1), "loop": (2, 100_000),
          "switch_every": (1e-3, 1e6), "crossfade": (0.0, 60.0)}


def load_scene(path):
    """A scene file, checked field by field; a missing or malformed one is a UserError."""
    if not os.path.isfile(path):
        raise UserError(f"--scene {path}: no such file")
    try:
        if path.lower().endswith(".toml"):
            import tomllib

            with open(path, "rb") as f:
                scene = tomllib.load(f)
        else:
            with open(path) as f:
                scene = json.load(f)
    except (ValueError, OSError) as err:
        raise UserError(f"--scene {path}: not readable JSON/TOML ({err})") from None
    if not isinstance(scene, dict):
        raise UserError(f"--scene {path}: a scene is a table of {', '.join(FIELDS)}")
    for key, value in scene.items():
        kind = FIELDS.get(key)
        ok = kind is not None and (value is None or (isinstance(value, kind) and not isinstance(value, bool))
                                   or (kind is bool and isinstance(value, bool))
                                   or (kind is float and isinstance(value, int) and not isinstance(value, bool)))
        if ok and kind is float and value is not None:
            ok = math.isfinite(value)
        if ok and key in RANGES and value is not None:
            ok = RANGES[key][0] <= value <= RANGES[key][1]
        if ok and key == "models":
            ok = bool(value) and all(isinstance(m, str) for m in value)
        if ok and key == "react":
            ok = set(value) <= set(ROUTES) and all(isinstance(v, (int, float)) and 0 <= v <= 10 for v in value.values())
        if not ok:
            raise UserError(f"--scene {path}: field '{key}' = {value!r:.40} is not a valid {getattr(kind, '__name__', key)}")
    return scene


def scene_of(args, source):
    """The show's live state as a scene dict."""
    reaction = getattr(getattr(source, "reactor", None), "reaction", None) or args.react
    return {"models": [os.path.abspath(m) for m in args.models], "speed": source.speed, "gain": source.gain,
            "seed": source.seed, "react": {r: getattr(reaction, r) for r in ROUTES}, "loop": args.loop,
            "switch_every": args.switch_every, "crossfade": args.crossfade, "shuffle": args.shuffle}


def save_scene(folder, args, source):
    path = os.path.join(folder, datetime.datetime.now().strftime("dvtex-scene-%Y%m%d-%H%M%S-%f.json"))
    write_json(path, scene_of(args, source))
    return path


def apply_to_args(scene, args, explicit):
    """Start values from a scene, where the command line did not give them."""
    from dvtex.player.audio_features import Reaction

    for key, value in scene.items():
        if value is None or key in explicit:
            continue
        if key == "models":
            if not explicit & {"models"}:
                args.models = list(value)
        elif key == "react":
            args.react = Reaction(**value)
        else:
            setattr(args, key, value)


def recall(scene, controls, models=None):
    """A scene, live: speed, gain, routes and seed through the controls; a playlist's model too."""
    if scene.get("speed") is not None:
        controls.set_speed(scene["speed"])
    if scene.get("gain") is not None:
        controls.set_gain(scene["gain"])
    for route, value in (scene.get("react") or {}).items():
        controls.set_react(route, value)
    if scene.get("seed") is not None:
        controls.reseed(scene["seed"])
    if models and scene.get("models"):
        wanted = os.path.abspath(scene["models"][0])
        for i, model in enumerate(models):
            if os.path.abspath(model) == wanted:
                controls.select_model(i)
                break
