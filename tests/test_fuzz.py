"""Fuzzing the two files dvtex reads: mutate the bundled model's metadata and a checkpoint's keys and
values (a seeded loop); every mutation is played (or exported) correctly or refused with status 2,
never a traceback, never a hang."""

import json
import signal
from contextlib import contextmanager

import numpy as np
import torch

from conftest import run_main

VALUES = [None, "x", -1, 0, 1.5, 1e308, float("nan"), float("inf"), [], {}, [[1, 2], [3]], True, 10**30, "{",
          [[0.0] * 10] * 10, [[1e6] * 10] * 10, [[float("nan")] * 10] * 10, [[0.5] * 10] * 3, list(range(10)),
          "dvtex-onnx/99", "dvtex-onnx/x", [[[0]]]]


@contextmanager
def time_limit(seconds, case):
    def stop(*_):
        raise TimeoutError(f"{case} took more than {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def mutations(keys, rng, count):
    for _ in range(count):
        key = keys[rng.integers(len(keys))]
        choice = rng.integers(len(VALUES) + 2)
        if choice == len(VALUES):
            yield key, "delete", None
        elif choice == len(VALUES) + 1:
            yield f"extra{rng.integers(100)}", "add", 1
        else:
            yield key, "set", VALUES[choice]


def test_mutated_model_metadata_plays_or_is_refused(tmp_path, demo_model, capsys):
    import onnx

    from dvtex.player.cli import main

    model = onnx.load(demo_model)
    props = {p.key: p.value for p in model.metadata_props}
    keys = [k for k in props if k.startswith("dvtex.")]
    outcomes = {0: 0, 2: 0}
    for i, (key, how, value) in enumerate(mutations(keys, np.random.default_rng(0), 60)):
        mutated = dict(props)
        if how == "delete":
            mutated.pop(key)
        else:
            mutated[key if how == "set" else f"dvtex.{key}"] = json.dumps(value) if value != "{" else "{"
        del model.metadata_props[:]
        for k, v in mutated.items():
            model.metadata_props.add(key=k, value=v)
        path, out = tmp_path / f"m{i}.onnx", tmp_path / f"m{i}.gif"
        onnx.save(model, str(path))
        with time_limit(60, f"{key} {how} {value!r}"):
            code = run_main(main, [path, "--frames", 3, "--out", out])
        err = capsys.readouterr().err
        assert code in outcomes, (key, how, value, code, err)
        outcomes[code] += 1
        if code == 0:
            from PIL import Image

            with Image.open(out) as gif:
                assert gif.n_frames == 3
                assert np.asarray(gif.convert("RGB")).std() > 1  # a picture, not a blank
        else:
            assert len(err.strip().splitlines()) == 1 and "error" in err, (key, how, value, err)
        path.unlink()
    assert outcomes[0] and outcomes[2]  # some mutations are harmless (e.g. 'created'), most are not


def test_mutated_checkpoints_export_resume_or_are_refused(tmp_path, checkpoints, capsys):
    from dvtex.export.cli import main as export
    from dvtex.train.checkpoint import save_checkpoint
    from dvtex.train.cli import main as resume

    base = torch.load(checkpoints["water"], weights_only=True)
    tensor_values = [torch.full((10, 10), float("nan")), torch.zeros(3), torch.zeros(10, 10, dtype=torch.int64)]
    rng = np.random.default_rng(1)
    places = [(k,) for k in base] + [("model", k) for k in base["model"]] + [("config", k) for k in base["config"]] \
        + [("train_config", k) for k in base["train_config"]]
    outcomes = {0: 0, 2: 0}
    for i in range(60):
        place = places[rng.integers(len(places))]
        pool = VALUES + tensor_values + ["delete"]
        value = pool[rng.integers(len(pool))]
        ckpt = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
        target = ckpt if len(place) == 1 else ckpt[place[0]]
        if value == "delete":
            target.pop(place[-1], None)
        else:
            target[place[-1]] = value
        path = tmp_path / f"c{i}.pt"
        save_checkpoint(ckpt, path)
        case = f"{'/'.join(place)} = {value!r}"[:80]
        with time_limit(120, case):
            codes = [run_main(export, [path, "-o", tmp_path / f"c{i}.onnx"]),
                     run_main(resume, ["procedural:water:40", "-o", path, "--resume", "--steps", int(base["step"]) + 1,
                                       "--preview-every", 0])]
        err = capsys.readouterr().err
        for code in codes:
            assert code in outcomes, (case, code, err[-500:])
            outcomes[code] += 1
        assert "Traceback" not in err, case
    assert outcomes[0] and outcomes[2]
