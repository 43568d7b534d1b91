"""Atomic file writes: a temporary file in the target's folder, then one rename.

A crash at any instant leaves either the old file or the new one, never half of one. The result
gets the permissions a plain open() would give (mkstemp's are owner-only). Torch-free.
"""

import contextlib
import json
import os
import tempfile

TEMP_PREFIX = ".tmp-"  # what atomic_path names its temporary files


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path next to `path`; on success it replaces `path`, on error it is removed."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale_temporaries(path, suffix):
    """Delete the temporary files that a writer killed mid-write (SIGKILL, power loss) left beside
    `path`: those named for a process that no longer runs. A live writer's file is left alone.
    Returns the paths removed."""
    folder = os.path.dirname(os.path.abspath(path))
    removed = []
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if not (name.startswith(TEMP_PREFIX) and name.endswith(suffix)):
            continue
        pid = name[len(TEMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                os.remove(os.path.join(folder, name))
                removed.append(os.path.join(folder, name))
            except OSError:
                pass
    return removed


def write_json(path, obj):
    """`obj` as indented JSON at `path`, atomically."""
    with atomic_path(path, ".json") as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
