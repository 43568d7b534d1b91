"""What every benchmark script shares: the machine's description and writing its JSON."""

import json
import os
import platform


def hardware():
    import torch

    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads"


def write_result(path, result):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump({**result, "hardware": hardware()}, f, indent=2)
    print(f"wrote {path}")
