"""dvtex.export: a trained checkpoint -> one self-describing .onnx file the player needs alone."""
