"""How long selection and file writing take for big pools (issue 5).

For pools of 10k, 100k and 1M images, with one score an image (what MI-AOD's
hook keeps: no per-anchor data), time what happens after the scoring pass:
gathering two ranks' shards back into pool order, the strategy's pick of
``budget = N // 40`` images, and the splitter's commit (``X_L_<c>.npy``,
``X_U_<c>.npy``, the per-subset id lists and ``selection_<c>.json``,
written atomically). Setting up the splitter (reading 1M image ids) is done
once and not timed; it is what a run pays once at its start.

    .venv/bin/python benchmarks/selection_scale.py [--out FILE]

Writes ``benchmarks/results/selection_scale.json``.
"""
import argparse
import datetime
import os
import os.path as osp
import platform
import sys
import tempfile
import time

import numpy as np
from mmengine.dataset import BaseDataset

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

from al_plugin.datasets import ActiveDatasetSplitter  # noqa: E402
from al_plugin.engine.hooks.active_selection_hook import \
    _merge_shards  # noqa: E402
from al_plugin.strategies import InstanceUncertaintyStrategy  # noqa: E402
from al_plugin.utils import atomic_write_json  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)


class IdPool(BaseDataset):
    """A pool of ``n`` bare image ids (no files, no pipeline)."""

    def __init__(self, n: int, year: str) -> None:
        self._n = n
        self.ann_file = f'VOC{year}/ImageSets/Main/trainval.txt'
        super().__init__(serialize_data=False, lazy_init=False)

    def load_data_list(self):
        return [dict(img_id=f'{i:08d}') for i in range(self._n)]


def time_selection(n: int, work_dir: str) -> dict:
    from mmengine.dataset import ConcatDataset
    pool_dataset = ConcatDataset(
        [IdPool(n // 2, '2007'), IdPool(n - n // 2, '2012')])
    splitter = ActiveDatasetSplitter(
        X_L_0_size=n // 20, X_S_size=n // 40, seed=666)
    splitter.setup(pool_dataset, work_dir)
    pool = np.asarray(splitter.pool_indices())
    rng = np.random.default_rng(0)
    scores = rng.random(len(pool), dtype=np.float32)
    # two ranks, interleaved as DefaultSampler(shuffle=False) shards them
    shards = [(pool[r::2], {'instance_uncertainty': scores[r::2]}, {})
              for r in range(2)]
    timings = {}
    start = time.perf_counter()
    outputs, broken = _merge_shards(shards, pool)
    timings['gather'] = time.perf_counter() - start
    start = time.perf_counter()
    strategy = InstanceUncertaintyStrategy()
    chosen, all_scores = strategy.select(outputs, splitter.budget(1),
                                         len(pool))
    timings['select'] = time.perf_counter() - start
    start = time.perf_counter()
    splitter.commit(
        1,
        pool[chosen].tolist(),
        scores=all_scores[chosen].tolist(),
        strategy=strategy.name,
        skipped=sorted(broken))
    timings['commit'] = time.perf_counter() - start
    timings['total'] = sum(timings.values())
    timings['output_bytes'] = int(sum(v.nbytes for v in outputs.values()))
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--out',
        default=osp.join(osp.dirname(__file__), 'results',
                         'selection_scale.json'))
    args = parser.parse_args()
    results = {}
    for n in SIZES:
        with tempfile.TemporaryDirectory() as work_dir:
            results[str(n)] = time_selection(n, work_dir)
        print(f'{n:>9} images: ' + ', '.join(
            f'{k} {v:.3f} s' for k, v in results[str(n)].items()
            if k != 'output_bytes'))
    record = dict(
        selection_seconds={n: r['total'] for n, r in results.items()},
        breakdown=results,
        machine=f'{platform.machine()}, {os.cpu_count()} cores, '
        f'{platform.python_implementation()} {platform.python_version()}',
        date=datetime.date.today().isoformat())
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    atomic_write_json(args.out, record)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
