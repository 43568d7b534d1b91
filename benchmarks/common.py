"""What every benchmark script shares: the machine's description and writing its JSON."""

import os

from dvtex.hardware import hardware
from dvtex.fileio import write_json


def make_model(folder, preset, width, channels=3):
    """A decoder with seeded random weights, exported without verification: (decoder, .onnx path).
    Speed and latency do not depend on what the weights learnt."""
    import numpy as np
    import torch

    from dvtex.export.exporter import export_model, process_metadata
    from dvtex.train.model import Decoder, DVAEConfig

    torch.manual_seed(0)
    cfg = DVAEConfig.from_preset(preset, width=width, channels=channels)
    decoder = Decoder(cfg).eval()
    meta = process_metadata(np.eye(10) * 0.9, np.eye(10) * np.sqrt(1 - 0.81), np.zeros((1, 10)), 30.0,
                            {"height": cfg.size, "width": cfg.size, "channels": channels, "preset": preset})
    path = os.path.join(folder, f"{preset}-w{width}.onnx")
    export_model(decoder, meta, path, check=False)
    return decoder, path


def write_result(path, result):
    write_json(path, {**result, "hardware": hardware()})
    print(f"wrote {path}")
