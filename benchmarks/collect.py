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
  ``label_efficiency_redundant.json``), and there ``duplicate_rate``:
  strategy -> the mean share of its picks whose burst X_L already held
  (``selection_content.py`` on that pool,
  ``selection_content_redundant.json``).

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

#: source -> (the key it goes under, its key, how it is read from the file):
#: a figure a benchmark's file holds per strategy, not as a top-level key
DERIVED = {
    'selection_content_redundant':
    ('redundant_pool', 'duplicate_rate',
     lambda data: {name: stats['mean']['duplicate_rate']
                   for name, stats in data['strategies'].items()}),
}


def _read(results_dir: str, source: str, out: dict):
    """The source's json, its origin noted in ``out``; None (and the source
    listed as missing) when the benchmark has not run."""
    path = osp.join(results_dir, f'{source}.json')
    if not osp.exists(path):
        out['missing'].append(source)
        return None, path
    with open(path) as f:
        data = json.load(f)
    out['sources'][source] = dict(
        file=osp.relpath(path, ROOT), machine=data.get('machine'),
        date=data.get('date'))
    return data, path


def collect(results_dir: str = RESULTS) -> dict:
    out = dict(machine=machine(), date=datetime.date.today().isoformat(),
               sources={}, missing=[])
    sources = [(source, None, keys) for source, keys in KEYS.items()] + \
        [(source, under, keys) for source, (under, keys) in NESTED.items()]
    for source, under, keys in sources:
        data, path = _read(results_dir, source, out)
        if data is None:
            continue
        target = out if under is None else out.setdefault(under, {})
        for key in keys:
            if key not in data:
                raise KeyError(f'{path}: no {key!r}; run the benchmark '
                               'that writes it again')
            target[key] = data[key]
    for source, (under, key, read) in DERIVED.items():
        data, path = _read(results_dir, source, out)
        if data is None:
            continue
        try:
            out.setdefault(under, {})[key] = read(data)
        except (KeyError, TypeError) as e:
            raise KeyError(f'{path}: no {key!r} ({e!r}); run the benchmark '
                           'that writes it again') from None
    return out


def main() -> None:
    out = collect()
    path = osp.join(ROOT, 'benchmarks', 'results.json')
    atomic_write_json(path, out)
    print(f'wrote {path}' + (f' (not run yet: {", ".join(out["missing"])})'
                             if out['missing'] else ''))


if __name__ == '__main__':
    main()
