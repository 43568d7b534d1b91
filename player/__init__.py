"""dvtex.player: plays dvtex .onnx models with numpy and ONNX Runtime; never imports torch.

    from dvtex.player import TextureStream   # an endless source of frames for your app
"""

from dvtex.player.api import TextureStream
from dvtex.player.modelfile import ModelInfo, load_model

__all__ = ["ModelInfo", "TextureStream", "load_model"]
