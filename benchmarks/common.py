"""What every benchmark script shares: the machine's description and writing its JSON."""

import json
import os
import platform


def hardware():
    import torch

    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads"


def make_model(folder, preset, width, channels=3):
    """A decoder with seeded random weights, exported without verification: (decoder, .onnx path).
    Speed and latency do not depend on what the weights learnt."""
    import numpy as np
    import torch

    from dvtex.export.exporter import export_model, process_metadata
    from dvtex.model import Decoder, DVAEConfig

    torch.manual_seed(0)
    cfg = DVAEConfig.from_preset(preset, width=width, channels=channels)
    decoder = Decoder(cfg).eval()
    meta = process_metadata(np.eye(10) * 0.9, np.eye(10) * np.sqrt(1 - 0.81), np.zeros((1, 10)), 30.0,
                            {"height": cfg.size, "width": cfg.size, "channels": channels, "preset": preset})
    path = os.path.join(folder, f"{preset}-w{width}.onnx")
    export_model(decoder, meta, path, check=False)
    return decoder, path


def write_result(path, result):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump({**result, "hardware": hardware()}, f, indent=2)
    print(f"wrote {path}")
