"""Checkpoint files that survive a killed process.

mmengine's ``LocalBackend.put`` opens the final path and writes into it: a
process killed (or a disk filling up) mid-write leaves a truncated checkpoint
under the name ``last_checkpoint`` points to, and ``--resume`` fails on it.

- :class:`AtomicLocalBackend` writes a temporary file beside the target and
  renames it onto the target (``os.replace``): a checkpoint is complete or
  absent, and an older file of the same name stays intact until then.
  ``configs/_base_/default_runtime.py`` selects it for ``CheckpointHook``
  with ``backend_args=dict(backend='atomic_local')``; the loop's cycle
  checkpoints use the hook's ``backend_args``.
- :func:`find_resume_checkpoint` reads ``last_checkpoint`` for ``--resume``
  and falls back to the newest checkpoint file when it names none (mmengine's
  ``CheckpointHook`` rewrites ``last_checkpoint`` in place).
- :func:`prune_checkpoints` keeps the newest cycle checkpoints.
"""
import os
import os.path as osp
import re
from pathlib import Path
from typing import List, Optional, Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log

from al_plugin.utils import atomic_open
from al_plugin.work_dir import LAST_CHECKPOINT, RESUMABLE, cycle_of


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """A :class:`mmengine.fileio.LocalBackend` whose writes are atomic.

    ``put`` and ``put_text`` write ``.<name>.<random>.tmp`` in the target's
    folder, flush and fsync it, then ``os.replace`` it onto the target.  An
    error mid-write removes the temporary file and leaves the target as it
    was; a killed process may leave the hidden temporary file, never a
    partial target.  Reads, listing and removal are ``LocalBackend``'s.

    Registered as ``'atomic_local'``, without a URI prefix (plain paths keep
    mapping to ``LocalBackend``): it is chosen by name, e.g.
    ``CheckpointHook(backend_args=dict(backend='atomic_local'))``.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically (folders are created)."""
        with atomic_open(str(filepath), 'wb') as f:
            f.write(obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically (folders are created)."""
        self.put(obj.encode(encoding), filepath)


def write_last_checkpoint(work_dir: str, checkpoint: str) -> None:
    """Point ``work_dir/last_checkpoint`` at ``checkpoint``, atomically."""
    with atomic_open(osp.join(work_dir, LAST_CHECKPOINT), 'w') as f:
        f.write(checkpoint)


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The path ``work_dir/last_checkpoint`` names, or None (no file, or
    an empty one)."""
    path = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return f.read().strip() or None


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (without a path) continues from.

    ``work_dir/last_checkpoint`` names it.  When that file is missing or
    empty (``CheckpointHook`` rewrites it in place, so a process killed at
    that moment leaves it empty) or names a local file that does not exist,
    the newest ``epoch_<n>.pth`` / ``iter_<n>.pth`` / ``cycle_<c>.pth`` of
    ``work_dir`` by modification time is returned instead: written by
    :class:`AtomicLocalBackend`, each is complete.

    Args:
        work_dir (str): The experiment's work dir.

    Returns:
        str | None: A checkpoint path, or None if ``work_dir`` holds none.
    """
    named = read_last_checkpoint(work_dir)
    if named is not None and ('://' in named or osp.isfile(named)):
        return named
    names = os.listdir(work_dir) if osp.isdir(work_dir) else []
    candidates = [
        osp.join(work_dir, name) for name in sorted(names)
        if any(cycle_of(name, kind) is not None for kind in RESUMABLE)
        and osp.isfile(osp.join(work_dir, name))
    ]
    if not candidates:
        return None
    newest = max(candidates, key=osp.getmtime)
    print_log(
        f'{osp.join(work_dir, LAST_CHECKPOINT)} names '
        f'{named or "no checkpoint"}; resuming from the newest checkpoint '
        f'file instead: {newest}',
        logger='current')
    return newest


def prune_checkpoints(folder: str,
                      pattern: str,
                      keep: int,
                      protect: Optional[str] = None,
                      backend: Optional[LocalBackend] = None) -> List[str]:
    """Remove all but the ``keep`` newest checkpoints named ``pattern``.

    Args:
        folder (str): Where the checkpoints are.
        pattern (str): A regular expression with one group, the number that
            orders the files, e.g. ``r'cycle_(\\d+)\\.pth'``.
        keep (int): How many to keep (the highest numbers); < 0 keeps all.
        protect (str, optional): A path never removed (what
            ``last_checkpoint`` names).
        backend (LocalBackend, optional): The storage backend of ``folder``
            (``list_dir_or_file``, ``remove``). Defaults to a LocalBackend.

    Returns:
        list[str]: The removed paths.
    """
    if keep < 0:
        return []
    backend = backend or LocalBackend()
    regex = re.compile(f'^{pattern}$')
    found = []
    for name in backend.list_dir_or_file(folder, list_dir=False):
        match = regex.match(name)
        if match:
            found.append((int(match.group(1)), name))
    found.sort(reverse=True)
    keep_names = {name for _, name in found[:keep]}
    removed = []
    for _, name in found:
        path = backend.join_path(folder, name)
        if name in keep_names or (protect is not None
                                  and _same_path(path, protect)):
            continue
        backend.remove(path)
        removed.append(path)
    return removed


def _same_path(a: str, b: str) -> bool:
    if '://' in a or '://' in b:
        return a == b
    return osp.realpath(a) == osp.realpath(b)
