"""The console scripts. Torch-free: a play-only install (`pip install "dvtex[cpu]"`) has dvtex-train,
dvtex-export and dvtex-eval too, and they must say what is missing in one line, not in a traceback."""

import importlib
import sys

TORCH_FIRST = "pip install torch==2.13.0 (the CPU build) first, then"


def _missing(modules):
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def _run(prog, module, needs, extra):
    missing = _missing(needs)
    if missing:
        print(f"{prog}: error: {' and '.join(missing)} not installed: {prog} needs the {extra} extra; "
              f"{TORCH_FIRST} pip install \"dvtex[{extra}]\"", file=sys.stderr)
        sys.exit(2)
    return importlib.import_module(module).main()


def train():
    return _run("dvtex-train", "dvtex.train.cli", ("torch",), "train")


def export():
    return _run("dvtex-export", "dvtex.export.cli", ("torch", "onnx"), "train")


def evaluate():
    return _run("dvtex-eval", "dvtex.eval.cli", ("torch",), "train,eval")


def play():
    from dvtex.player.cli import main

    return main()
