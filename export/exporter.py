"""Checkpoint -> one self-describing .onnx file: the decoder C_eta as a graph that emits display-ready
uint8 RGB frames, and the process (A, B, initial states, fps, ...) in its metadata."""

import datetime

import numpy as np
import torch

from dvtex import __version__
from dvtex.dynamics import MARGIN, needs_stabilizing, played_pair, spectral_norm, spectral_radius, stationarity_residual
from dvtex.errors import UserError
from dvtex.fileio import atomic_path
from dvtex.player.modelfile import FORMAT, INPUT, OUTPUT, encode_metadata
from dvtex.train.model import Decoder

VERIFY_STATES = 64


class FrameGraph(torch.nn.Module):
    """h (batch, n) float32 -> frame (batch, H, W, 3) uint8: tanh output mapped to 0..255, rounded,
    NHWC, grey replicated to RGB, all in the graph so that the player does no per-pixel work."""

    def __init__(self, decoder, fp16=False):
        super().__init__()
        self.decoder = decoder.half() if fp16 else decoder
        self.fp16 = fp16
        self.grey = decoder.channels == 1

    def forward(self, h):
        y = self.decoder(h.half() if self.fp16 else h).float()  # (B, C, H, W) in [-1, 1]
        y = torch.clamp(torch.round((y + 1) * 127.5), 0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        return y.expand(-1, -1, -1, 3) if self.grey else y


def process_metadata(A, B, h0, fps, facts):
    """Metadata for a learnt (A, B): stabilized when it is not stationary, with the figures."""
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    before = {"residual": stationarity_residual(A, B), "spectral_radius": spectral_radius(A),
              "norm": spectral_norm(A)}
    needs = needs_stabilizing(A, B)
    A_play, B_play = played_pair(A, B)
    after = {"residual": stationarity_residual(A_play, B_play), "spectral_radius": spectral_radius(A_play),
             "norm": spectral_norm(A_play)}
    n = A.shape[0]
    meta = {"format": FORMAT, "n": n, "A": A_play.tolist(), "B": B_play.tolist(),
            "A_learnt": A.tolist(), "B_learnt": B.tolist(), "residual_learnt": before["residual"],
            "stabilized": {"applied": bool(needs), "margin": MARGIN, "before": before, "after": after},
            "h0": np.asarray(h0, np.float64).reshape(-1, n).tolist(), "fps": float(fps),
            "dvtex_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **facts}
    return meta


def write_graph(decoder, meta, path, fp16=False, opset=17):
    """Trace the frame graph to `path`, with the metadata attached and onnx.checker passed. A resize
    decoder's steps are folded in `decoder` itself (export_model hands it a copy)."""
    import onnx

    for module in decoder.modules():  # the resize decoder as the transposed convolutions it runs as
        if isinstance(module, Decoder):
            module.fold_resize_steps()
    graph = FrameGraph(decoder.eval(), fp16).eval()
    with torch.no_grad():
        torch.onnx.export(graph, (torch.zeros(2, meta["n"]),), path, input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}, opset_version=opset,
                          dynamo=False)
    model = onnx.load(path)
    model.doc_string = "dvtex dynamic texture: h (batch, n) -> frame (batch, H, W, 3) uint8; see metadata_props"
    for key, value in encode_metadata(meta).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, path)


@torch.no_grad()
def verify(decoder, path, n, bound, count=VERIFY_STATES, seed=0):
    """ONNX Runtime on the CPU against the float32 torch decoder on random states: the largest
    difference in grey levels, and whether it is within `bound`."""
    import onnxruntime as ort

    from dvtex.player.modelfile import session_options

    h = torch.randn(count, n, generator=torch.Generator().manual_seed(seed))
    want = FrameGraph(decoder.float().eval())(h).numpy().astype(np.int16)
    session = ort.InferenceSession(path, sess_options=session_options(), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT], {INPUT: h.numpy()})[0].astype(np.int16)
    worst = int(np.abs(got - want).max())
    return worst, worst <= bound


def export_model(decoder, meta, out, fp16=False, opset=17, check=True, bound=None, log=print):
    """Write `out` atomically, verified first unless check is False: a file that fails verification
    never replaces anything (a UserError says by how much it failed). Returns the verified figure."""
    import copy

    reference = copy.deepcopy(decoder).float().eval()  # an fp16 export converts its own copy
    worst = None
    with atomic_path(out, ".onnx") as tmp:
        write_graph(copy.deepcopy(decoder), meta, tmp, fp16, opset)
        if check:
            bound = bound if bound is not None else (8 if fp16 else 1)
            worst, ok = verify(reference, tmp, meta["n"], bound)
            log(f"verified: ONNX Runtime (CPU) vs torch on {VERIFY_STATES} random states: "
                f"at most {worst} grey level(s) apart (bound {bound})")
            if not ok:
                raise UserError(f"ONNX Runtime and torch differ by {worst} grey levels (bound {bound}); "
                                f"{out} was not written; try another --opset, or --no-verify")
    return worst
