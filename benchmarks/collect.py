"""Merge the benchmarks' outputs into ``benchmarks/results.json``.

Each benchmark writes ``benchmarks/results/<name>.json``; this puts the
headline numbers under fixed keys (numbers, not strings) and keeps each
source's machine and date:

- ``scoring_vs_predict_ratio``, ``scoring_vs_reference_ratio``,
  ``train_iter_ratio``, ``train_iter_ratio_r50`` (``cost.py``);
- ``selection_seconds`` (pool size -> seconds; ``selection_scale.py``);
- ``label_fraction_to_match_random``, ``map_per_cycle``
  (``label_efficiency.py``).

A benchmark not run yet leaves its keys out and is listed under
``missing``.

    .venv/bin/python benchmarks/collect.py
"""
import datetime
import json
import os.path as osp
import sys

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

from al_plugin.utils import atomic_write_json  # noqa: E402
from benchmarks.machine import machine  # noqa: E402

RESULTS = osp.join(ROOT, 'benchmarks', 'results')
#: source -> the keys it provides
KEYS = {
    'cost': ('scoring_vs_predict_ratio', 'scoring_vs_reference_ratio',
             'train_iter_ratio', 'train_iter_ratio_r50'),
    'selection_scale': ('selection_seconds', 'selection_peak_mib'),
    'label_efficiency': ('label_fraction_to_match_random', 'map_per_cycle'),
}


def collect(results_dir: str = RESULTS) -> dict:
    out = dict(machine=machine(), date=datetime.date.today().isoformat(),
               sources={}, missing=[])
    for source, keys in KEYS.items():
        path = osp.join(results_dir, f'{source}.json')
        if not osp.exists(path):
            out['missing'].append(source)
            continue
        with open(path) as f:
            data = json.load(f)
        for key in keys:
            if key not in data:
                raise KeyError(f'{path}: no {key!r}; run benchmarks/'
                               f'{source}.py again')
            out[key] = data[key]
        out['sources'][source] = dict(
            file=osp.relpath(path, ROOT), machine=data.get('machine'),
            date=data.get('date'))
    return out


def main() -> None:
    out = collect()
    path = osp.join(ROOT, 'benchmarks', 'results.json')
    atomic_write_json(path, out)
    print(f'wrote {path}' + (f' (not run yet: {", ".join(out["missing"])})'
                             if out['missing'] else ''))


if __name__ == '__main__':
    main()
