"""Merge the benchmarks' outputs into ``benchmarks/results.json``.

Each benchmark writes ``benchmarks/results/<name>.json``; this puts the
headline numbers under fixed keys (numbers, not strings) and keeps each
source's machine and date:

- ``scoring_vs_predict_ratio``, ``scoring_vs_reference_ratio``,
  ``train_iter_ratio``, ``train_iter_ratio_r50`` (``cost.py``);
- ``selection_seconds`` (pool size -> seconds; ``selection_scale.py``);
- ``label_fraction_to_match_random``, ``map_per_cycle``,
  ``paired_selection_gain``, ``validation_map``, ``boxes_per_cycle``,
  ``pretrained`` (``label_efficiency.py`` on the default pool);
- ``redundant_pool``: the same keys from the redundant pool of bursts
  (``label_efficiency.py --pool redundant``,
  ``label_efficiency_redundant.json``).

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
    'label_efficiency': ('label_fraction_to_match_random', 'map_per_cycle',
                         'paired_selection_gain', 'validation_map',
                         'boxes_per_cycle', 'pretrained'),
}
#: source -> (the key its keys go under, the keys): another pool's run of
#: a benchmark
NESTED = {
    'label_efficiency_redundant': ('redundant_pool',
                                   KEYS['label_efficiency']),
}


def collect(results_dir: str = RESULTS) -> dict:
    out = dict(machine=machine(), date=datetime.date.today().isoformat(),
               sources={}, missing=[])
    sources = [(source, None, keys) for source, keys in KEYS.items()] + \
        [(source, under, keys) for source, (under, keys) in NESTED.items()]
    for source, under, keys in sources:
        path = osp.join(results_dir, f'{source}.json')
        if not osp.exists(path):
            out['missing'].append(source)
            continue
        with open(path) as f:
            data = json.load(f)
        target = out if under is None else out.setdefault(under, {})
        for key in keys:
            if key not in data:
                raise KeyError(f'{path}: no {key!r}; run the benchmark '
                               'that writes it again')
            target[key] = data[key]
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
