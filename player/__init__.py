"""dvtex.player: plays dvtex .onnx models with numpy and ONNX Runtime; never imports torch."""

from dvtex.player.modelfile import ModelInfo, load_model

__all__ = ["ModelInfo", "load_model"]
