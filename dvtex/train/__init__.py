"""dvtex.train: the torch side. Data, the Dynamic VAE and its baselines, training, checkpoints, synthesis.

    from dvtex.train import TrainConfig, train
    ckpt = train(TrainConfig(sources=["procedural:fire"], output="runs/fire.pt", steps=3000, cosine=0))

Everything under this folder may import torch; nothing outside it but dvtex.eval and dvtex.export does.
"""

from dvtex.train.config import TrainConfig
from dvtex.train.loop import train

__all__ = ["TrainConfig", "train"]
