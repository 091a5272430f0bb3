"""Small helpers shared by the package: atomic file writes, metric values,
the cache folder outside the clone."""
import json
import os
import os.path as osp
import tempfile
from contextlib import contextmanager
from typing import Any


@contextmanager
def atomic_open(path: str, mode: str = 'w'):
    """Open a temporary file beside ``path``; rename it onto ``path`` only
    when the block ends without error (nothing half-written is ever seen).
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    # mkstemp creates 0600; give the file the mode open() would (umask)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_json(path: str, obj: Any, **kwargs) -> None:
    """``json.dump`` to ``path`` atomically (indent 2 by default)."""
    kwargs.setdefault('indent', 2)
    with atomic_open(path, 'w') as f:
        json.dump(obj, f, **kwargs)


def to_float(value: Any) -> Any:
    """``float(value)`` where it converts (a metric's tensor or numpy
    scalar), else ``value`` unchanged: metrics as JSON numbers."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def cache_root() -> str:
    """``$AL_PLUGIN_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/al_plugin``
    (the folder ``tools/setup_env.sh`` keeps the mmcv wheel in)."""
    root = os.environ.get('AL_PLUGIN_CACHE')
    if root:
        return root
    xdg = os.environ.get('XDG_CACHE_HOME') or osp.join(
        osp.expanduser('~'), '.cache')
    return osp.join(xdg, 'al_plugin')
