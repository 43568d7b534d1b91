import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(module, *args, timeout=300, env=None):
    """Run `python -m module args...` as a user would; returns the CompletedProcess."""
    full_env = {**os.environ, "DVTEX_THREADS": "2", **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=ROOT)


def assert_user_error(proc, *fragments):
    """A user's mistake: exit status 2, one line on stderr that names the problem, no traceback."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def last_line_is_the_error(proc, *fragments):
    """A run that stops on a user's error mid-way: exit 2, its last stderr line names it, no traceback
    (the lines before it are the progress bar's)."""
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in line, line
    return line


@pytest.fixture
def tiny_npy(tmp_path):
    """A 12-frame grey clip as .npy: a bright square that walks right."""
    import numpy as np

    frames = np.zeros((12, 40, 40), np.uint8)
    for t in range(12):
        frames[t, 10:20, 2 + 2 * t:12 + 2 * t] = 255
    path = tmp_path / "walk.npy"
    np.save(path, frames)
    return path


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    """Two tiny trained checkpoints: RGB water and grey digits (mnist32, width 8, a few steps)."""
    folder = tmp_path_factory.mktemp("ckpt")
    made = {}
    for name, source in (("water", "procedural:water:40"), ("digits", "digits:01234:60")):
        out = folder / f"{name}.pt"
        proc = run_module("dvtex.train", source, "--preset", "mnist32", "--width", "8", "--batch", "8",
                          "--steps", "6", "--preview-every", "0", "-o", out)
        assert proc.returncode == 0, proc.stderr
        made[name] = out
    return made


@pytest.fixture(scope="session")
def onnx_model(checkpoints, tmp_path_factory):
    """The tiny RGB water checkpoint exported to .onnx (32x32)."""
    out = tmp_path_factory.mktemp("onnx") / "water.onnx"
    proc = run_module("dvtex.export", checkpoints["water"], "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out


needs_display = pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="no X display (make test runs under xvfb-run)")


def run_main(main, argv):
    """A CLI's main() in this process, as `prog argv...`: its exit status (argparse and cli_entry exit
    through SystemExit; a traceback would propagate and fail the test)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as done:
        code = done.code
    return code or 0


def assert_refused(capsys, main, argv, fragment):
    """A bad input to a CLI's main(): status 2 and one line on stderr that names `fragment`."""
    capsys.readouterr()
    code = run_main(main, argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1, (argv, code, err)
    assert fragment in err[0], (argv, err[0])
    return err[0]


@pytest.fixture(scope="session")
def demo_model():
    return os.path.join(ROOT, "player", "demo", "fire64.onnx")
