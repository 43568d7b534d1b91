"""FrameDecoder: latent states -> uint8 RGB frames with ONNX Runtime, into buffers bound once.

--provider auto tries CUDA and falls back to the CPU; `provider` says what really runs
(`session.get_providers()`). Inputs and outputs go through IOBinding onto preallocated arrays, so
a decode allocates nothing in Python. On CUDA the input lives on the device and `cuda_graph`
replays the captured graph (fixed shapes and addresses, which IOBinding gives).
"""

import sys

import numpy as np

from dvtex.errors import UserError
from dvtex.player.modelfile import INPUT, OUTPUT, load_model, provider_list


class FrameDecoder:
    def __init__(self, path, provider="auto", batch=1, threads=2, cuda_graph=False, log=None):
        self.session, self.info = _open(path, provider, threads, cuda_graph)
        self.provider = self.session.get_providers()[0]
        self.batch = batch
        if provider == "auto" and "CUDAExecutionProvider" in provider_list("auto") and self.provider != "CUDAExecutionProvider":
            (log or _info)("CUDA provider could not start; decoding on the CPU")
        self.h_buf = np.zeros((batch, self.info.n), np.float32)
        self.out = np.zeros((batch, *self.info.frame_shape), np.uint8)
        self.binding = self.session.io_binding()
        self.on_cuda = self.provider == "CUDAExecutionProvider"
        self.cuda_graph = cuda_graph and self.on_cuda
        if self.on_cuda:
            import onnxruntime as ort

            self.h_dev = ort.OrtValue.ortvalue_from_numpy(self.h_buf, "cuda", 0)
            self.binding.bind_ortvalue_input(INPUT, self.h_dev)
            if self.cuda_graph:  # a captured graph needs its output on the device, at a fixed address
                self.out_dev = ort.OrtValue.ortvalue_from_numpy(self.out, "cuda", 0)
                self.binding.bind_ortvalue_output(OUTPUT, self.out_dev)
            else:
                self._bind_output(self.out)
        else:
            self.binding.bind_input(INPUT, "cpu", 0, np.float32, self.h_buf.shape, self.h_buf.ctypes.data)
            self._bind_output(self.out)
        self._bound_ptr = self.out.ctypes.data

    def _bind_output(self, out):
        self.binding.bind_output(OUTPUT, "cpu", 0, np.uint8, out.shape, out.ctypes.data)

    def decode(self, h, out=None):
        """States (batch, n) -> frames (batch, H, W, 3) uint8, written into `out` (a C-contiguous
        array of that shape, e.g. a ring slot) or into the decoder's own buffer."""
        out = self.out if out is None else out
        if self.on_cuda:
            self.h_dev.update_inplace(np.ascontiguousarray(h, np.float32).reshape(self.h_buf.shape))
        else:
            np.copyto(self.h_buf, h.reshape(self.h_buf.shape), casting="same_kind")
        if self.cuda_graph:
            self.session.run_with_iobinding(self.binding)
            np.copyto(out, self.out_dev.numpy())
            return out
        if out.ctypes.data != self._bound_ptr:  # a different buffer (another ring slot): bind it
            self._bind_output(out)
            self._bound_ptr = out.ctypes.data
        self.session.run_with_iobinding(self.binding)
        return out

    def close(self):
        self.binding = None
        self.session = None


def _open(path, provider, threads, cuda_graph):
    if cuda_graph and provider == "cpu":
        raise UserError("--cuda-graph needs the CUDA provider; drop --provider cpu")
    return load_model(path, "cuda" if cuda_graph else provider, threads, cuda_graph=cuda_graph)


def _info(message):
    print(f"dvtex-play: {message}", file=sys.stderr)
