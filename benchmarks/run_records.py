"""The records of a benchmark's finished runs, kept in the repository.

A long benchmark (``label_efficiency.py``: hours of two cores) spans
sessions, and a session's machine may come back empty: only what the
repository holds survives. ``keep(work_dir, records)`` copies what the
summary and the later stages read of every finished run into ``records``
(``benchmarks/runs/<name>/``, committed); ``restore(records, work_dir)``
puts it back where a later call looks for it, so ``compare.py`` finds those
runs done and ``validate_splits.py`` its finished trainings. Checkpoints
are never kept (megabytes each); a run that had not finished starts again.

Kept, under the same relative paths:

- every ``compare.json`` / ``compare.csv`` (the rows of the curves and of
  the branched comparisons);
- of each finished run (a folder whose ``compare_run.json`` says exit 0):
  that file, ``results.json`` and its ``X_L_<c>.npy`` (what
  ``selection_content.py`` and ``validate_splits.py`` read);
- of each validation: ``validation.json`` and the benchmark's settings;
- ``testbed.json``: digests of what every run reads (the pretrained
  weights' tensors, :func:`weights_digest`; the pool's annotations); a call
  on another testbed is refused (:func:`check_testbed`).

Both directions copy only what the other side lacks or holds in another
version, atomically, and never delete.
"""
import filecmp
import hashlib
import json
import os
import os.path as osp
import re
import shutil
from typing import List, Sequence

#: compare.py's record of a run's exit (tools/compare.py DONE_FILE)
DONE_FILE = 'compare_run.json'
#: what a finished run keeps, beside DONE_FILE
RUN_FILES = re.compile(r'^(results\.json|X_L_\d+\.npy)$')
#: what any folder keeps
ALWAYS = ('compare.json', 'compare.csv', 'validation.json',
          'benchmark_validation.json')
#: the testbed the records were measured on (:func:`check_testbed`)
TESTBED_FILE = 'testbed.json'


def finished(folder: str) -> bool:
    """Whether ``folder`` is a run compare.py finished (exit 0)."""
    path = osp.join(folder, DONE_FILE)
    if not osp.isfile(path):
        return False
    try:
        with open(path) as f:
            return json.load(f).get('returncode') == 0
    except ValueError:
        return False


def record_files(work_dir: str) -> List[str]:
    """The files of ``work_dir`` a record keeps, relative to it, sorted."""
    kept = []
    for folder, dirs, files in os.walk(work_dir):
        dirs.sort()
        done = finished(folder)
        for name in sorted(files):
            if name in ALWAYS or done and (
                    name == DONE_FILE or RUN_FILES.match(name)):
                kept.append(osp.relpath(osp.join(folder, name), work_dir))
    return kept


def _copy(files: List[str], src: str, dst: str) -> List[str]:
    copied = []
    for rel in files:
        source, target = osp.join(src, rel), osp.join(dst, rel)
        if osp.isfile(target) and filecmp.cmp(source, target,
                                              shallow=False):
            continue
        os.makedirs(osp.dirname(target), exist_ok=True)
        tmp = target + '.tmp'
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        copied.append(rel)
    return copied


def keep(work_dir: str, records: str) -> List[str]:
    """Copy the records of ``work_dir``'s finished runs into ``records``;
    returns the files copied (relative paths)."""
    if not osp.isdir(work_dir):
        return []
    return _copy(record_files(work_dir), work_dir, records)


def restore(records: str, work_dir: str) -> List[str]:
    """Copy the kept records that ``work_dir`` lacks back into it (a file
    it holds already, finished since, stays as it is); returns the files
    copied."""
    if not osp.isdir(records):
        return []
    lacking = [rel for rel in record_files(records)
               if not osp.exists(osp.join(work_dir, rel))]
    return _copy(lacking, records, work_dir)


def digest(paths: Sequence[str]) -> str:
    """sha256 over the contents of ``paths``, in the order given."""
    sha = hashlib.sha256()
    for path in paths:
        with open(path, 'rb') as f:
            sha.update(hashlib.sha256(f.read()).digest())
    return sha.hexdigest()


def weights_digest(checkpoint: str) -> str:
    """sha256 over the tensors of ``checkpoint``'s ``state_dict`` (name,
    dtype, shape and bytes, by name): the weights, not the file, whose
    ``meta`` (build time, paths) differs between two builds of the same
    weights."""
    import torch  # here: the records' other readers need no torch
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    state = state.get('state_dict', state)
    sha = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].contiguous()
        sha.update(f'{name}:{tensor.dtype}:{tuple(tensor.shape)}'.encode())
        sha.update(tensor.numpy().tobytes())
    return sha.hexdigest()


def check_testbed(records: str, testbed: dict) -> None:
    """Refuse to mix runs of two testbeds: ``testbed`` (digests of what
    every run reads, e.g. the backbone's pretrained weights and the pool's
    annotations) must equal the one ``records`` was measured on; records
    without one take it.

    Raises:
        SystemExit: If they differ; the message names the file and the
            entries that differ.
    """
    path = osp.join(records, TESTBED_FILE)
    if osp.isfile(path):
        with open(path) as f:
            recorded = json.load(f)
        differ = sorted(k for k in set(recorded) | set(testbed)
                        if recorded.get(k) != testbed.get(k))
        if differ:
            raise SystemExit(
                f'{path}: the records were measured on another testbed '
                f'({", ".join(differ)} differ: {recorded} here, {testbed} '
                'now); make the data and the pretrained weights they were '
                f'measured on, or move {records} away to start over')
        return
    os.makedirs(records, exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(testbed, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
