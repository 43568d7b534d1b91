"""dvtex: Dynamic VAE dynamic textures (Sagel & Shen, ICASSP 2020) as a live texture engine.

`import dvtex` stays torch-free so that the player can share `dvtex.dynamics`; the torch-side
helpers below load on first use.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "synthesize"]


def __getattr__(name):
    if name == "synthesize":
        from dvtex.train.synthesis import synthesize

        return synthesize
    raise AttributeError(f"module 'dvtex' has no attribute {name!r}")
