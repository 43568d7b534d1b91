"""What every benchmark script shares: the machine's description and writing its JSON."""

import os

from dvtex.hardware import hardware
from dvtex.fileio import write_json


def make_model(folder, preset, width, channels=3, kernel1_w=0, detail=0):
    """A decoder with seeded random weights, exported without verification: (decoder, .onnx path).
    Speed and latency do not depend on what the weights learnt. kernel1_w widens the frames (--aspect);
    detail=F adds an Fx detail stage (dvtex-train --detail), its weights random too."""
    import numpy as np
    import torch

    from dvtex.export.exporter import export_model, process_metadata
    from dvtex.train.detail import DetailConfig, DetailedDecoder, DetailStage
    from dvtex.train.model import Decoder, DVAEConfig

    torch.manual_seed(0)
    cfg = DVAEConfig.from_preset(preset, width=width, channels=channels, kernel1_w=kernel1_w)
    decoder, (height, side) = Decoder(cfg).eval(), cfg.frame_shape
    if detail:
        stage = DetailStage(DetailConfig(detail, channels, native=cfg.size, native_width=cfg.frame_width))
        for p in stage.parameters():  # not the zero start: a stage that draws something
            torch.nn.init.normal_(p, 0.0, 0.02)
        decoder, height, side = DetailedDecoder(decoder, stage.eval()).eval(), height * detail, side * detail
    meta = process_metadata(np.eye(10) * 0.9, np.eye(10) * np.sqrt(1 - 0.81), np.zeros((1, 10)), 30.0,
                            {"height": height, "width": side, "channels": channels, "preset": preset})
    path = os.path.join(folder, f"{preset}-w{width}-{side}x{height}.onnx")
    export_model(decoder, meta, path, check=False)
    return decoder, path


def write_result(path, result):
    write_json(path, {**result, "hardware": hardware()})
    print(f"wrote {path}")
