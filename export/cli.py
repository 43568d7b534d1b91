"""Export a trained Dynamic VAE (or a baseline: --method lds, vae+var) to one self-describing .onnx file:
dvtex-export model.pt

The graph decodes latent states to display-ready uint8 RGB frames; the metadata carries A, B
(made exactly stationary if they are not), initial states, frame size and fps, so dvtex-play needs
nothing else. The export is verified against torch unless --no-verify. --from-reference imports a
state dict trained with the reference implementation (alexandersagel/DynamicVAE).
"""

import argparse
import os

import numpy as np
import torch

from dvtex.errors import ArgumentParser, cli_entry, count, number, writable_file
from dvtex.fileio import remove_stale_temporaries
from dvtex.export.exporter import export_model, process_metadata
from dvtex.export.reference import import_reference
from dvtex.train.model import PRESETS


MIN_OPSET, MAX_OPSET = 13, 20  # what torch's TorchScript exporter writes and ONNX Runtime 1.17+ reads


def from_checkpoint(path):
    from dvtex.train.checkpoint import build_model, load_checkpoint
    from dvtex.train.detail import DetailedDecoder, build_detail

    ckpt = load_checkpoint(path)
    model = build_model(ckpt)
    cfg = model.cfg
    decoder, (height, width), stage = model.decoder, cfg.frame_shape, build_detail(ckpt)
    if stage is not None:  # the graph decodes at the stage's size; the process is the DVAE's
        decoder, height, width = DetailedDecoder(model.decoder, stage), height * stage.cfg.factor, width * stage.cfg.factor
    facts = {"height": height, "width": width, "channels": cfg.channels, "sigma_y2": model.output_variance(),
             "likelihood": cfg.likelihood, "texture": cfg.texture, "motion": cfg.motion, "prior": cfg.prior,
             "regions": cfg.regions, "regions_from": cfg.regions_from,
             "levels": cfg.levels, "motion_levels": cfg.motion_levels,
             "statistics_from": ckpt["train_config"]["statistics_from"], "lam": cfg.lam, "steps": int(ckpt["step"]),
             "data": ckpt["data"], "preset": cfg.preset,
             "net_width": cfg.width, "decoder": cfg.decoder, "source": "dvtex checkpoint", "method": ckpt.get("method", "dvae")}
    if stage is not None:
        trained = ckpt["detail"]["train_config"]
        facts["detail"] = {"native_size": cfg.size, "native_width": cfg.frame_width, "factor": stage.cfg.factor, "width": stage.cfg.width,
                           "upsample": stage.cfg.upsample, "noise": stage.cfg.noise, "pixel": trained["pixel"],
                           "texture": trained["texture"], "bands": trained["bands"],
                           "steps": ckpt["detail"]["step"], "minutes": ckpt["detail"]["minutes"]}
    return decoder, model.A.detach().double().numpy(), model.B.detach().double().numpy(), \
        ckpt["h0"].double().numpy(), float(ckpt["fps"]), facts


def from_reference(path, preset, fps):
    decoder, A, B, cfg = import_reference(path, preset)
    # The reference keeps no encoder means of its data: start from stationary N(0, I) draws.
    h0 = np.random.default_rng(0).standard_normal((16, cfg.n))
    facts = {"height": cfg.size, "width": cfg.size, "channels": cfg.channels, "sigma_y2": cfg.sigma_y2,
             "lam": cfg.lam, "steps": None, "data": [{"source": os.path.basename(path)}], "preset": preset,
             "net_width": cfg.width, "source": "reference implementation state dict", "h0_kind": "stationary draws"}
    return decoder, A, B, h0, fps, facts


def report_stationarity(meta, log):
    st = meta["stabilized"]
    fig = lambda d: f"||AA'+BB'-I|| = {d['residual']:.2e}, rho(A) = {d['spectral_radius']:.4f}, ||A|| = {d['norm']:.4f}"  # noqa: E731
    if st["applied"]:
        log(f"learnt (A, B) is not stationary ({fig(st['before'])}); stabilized: {fig(st['after'])}")
    else:
        log(f"learnt (A, B) is stationary: {fig(st['before'])}")


def parse_args(argv):
    p = ArgumentParser(prog="dvtex-export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", nargs="?", help="a dvtex-train checkpoint (.pt)")
    p.add_argument("-o", "--output", help="the .onnx file (default: the checkpoint's name with .onnx)")
    p.add_argument("--fp16", action="store_true", help="half-precision decoder (for GPUs); input and output stay float32/uint8")
    p.add_argument("--opset", type=count(MIN_OPSET, MAX_OPSET), default=17,
                   help=f"ONNX opset, {MIN_OPSET} to {MAX_OPSET} (default 17)")
    p.add_argument("--no-verify", action="store_true", help="skip the ONNX Runtime vs torch check")
    p.add_argument("--from-reference", metavar="STATE_DICT", help="import a reference-implementation DVAE state dict")
    p.add_argument("--preset", choices=sorted(PRESETS), help="with --from-reference: the preset it was trained with")
    p.add_argument("--fps", type=number(0.01, 1000), default=25.0, help="with --from-reference: the source's frame rate (default 25)")
    args = p.parse_args(argv)
    if bool(args.checkpoint) == bool(args.from_reference):
        p.error("give a checkpoint, or --from-reference STATE_DICT --preset P")
    if args.from_reference and not args.preset:
        p.error("--from-reference needs --preset")
    if args.output is None:
        args.output = os.path.splitext(args.checkpoint or args.from_reference)[0] + ".onnx"
    if not args.output.lower().endswith(".onnx"):
        p.error(f"-o {args.output}: the model file's name ends in .onnx")
    return args


@cli_entry("dvtex-export")
def main(argv=None):
    args = parse_args(argv)
    writable_file(args.output, "-o")  # before any work
    remove_stale_temporaries(args.output, ".onnx")
    log = lambda msg: print(f"dvtex-export: {msg}")  # noqa: E731
    torch.set_num_threads(min(4, torch.get_num_threads()))
    if args.from_reference:
        decoder, A, B, h0, fps, facts = from_reference(args.from_reference, args.preset, args.fps)
    else:
        decoder, A, B, h0, fps, facts = from_checkpoint(args.checkpoint)
    meta = process_metadata(A, B, h0, fps, facts)
    report_stationarity(meta, log)
    export_model(decoder, meta, args.output, fp16=args.fp16, opset=args.opset, check=not args.no_verify, log=log)
    size = os.path.getsize(args.output) / 2**20
    log(f"wrote {args.output} ({size:.1f} MiB, {facts['width']}x{facts['height']}, n = {meta['n']}, "
        f"{len(meta['h0'])} initial states, {fps:g} fps)")
    return 0


if __name__ == "__main__":
    main()
