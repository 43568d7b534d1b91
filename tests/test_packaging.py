import pkgutil
import subprocess
import sys

import dvtex.player


def run_python(code, cwd):
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)


def test_three_packages_and_no_generic_top_level_modules(tmp_path):
    ok = run_python("import dvtex, dvtex.export, dvtex.player; print(dvtex.player.__file__)", tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("player/__init__.py")
    for name in ("export", "player"):
        proc = run_python(f"import {name}", tmp_path)
        assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr


def test_import_dvtex_and_every_player_module_without_torch(tmp_path):
    modules = ["dvtex", "dvtex.dynamics", "dvtex.errors"] + [
        f"dvtex.player.{m.name}" for m in pkgutil.iter_modules(dvtex.player.__path__) if m.name != "__main__"]
    code = "import sys; sys.modules['torch'] = None\n" + "\n".join(f"import {m}" for m in modules)
    proc = run_python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = run_python("import sys, dvtex; assert 'torch' not in sys.modules", tmp_path)
    assert proc.returncode == 0, proc.stderr
