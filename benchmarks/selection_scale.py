"""How long selection and file writing take for big pools (issue 5).

For pools of 10k, 100k and 1M images, with one score an image (what MI-AOD's
hook keeps: no per-anchor data), time what happens after the scoring pass:
gathering two ranks' shards back into pool order, the strategy's pick of
``budget = N // 40`` images, and the splitter's commit (``X_L_<c>.npy``,
``X_U_<c>.npy``, the per-subset id lists and ``selection_<c>.json``,
written atomically). Setting up the splitter (reading 1M image ids) is done
once and not timed; it is what a run pays once at its start. Peak memory
(``tracemalloc``: Python and numpy allocations) is taken in a second,
untimed pass, from the end of the set-up: what the selection adds.

Core-set's cost curve: greedy k-center on 64-d features for 10k, 30k and
100k images (``N // 20`` labeled centers, ``budget = N // 40``).

    .venv/bin/python benchmarks/selection_scale.py [--out FILE]

Writes ``benchmarks/results/selection_scale.json``.
"""
import argparse
import datetime
import os
import os.path as osp
import sys
import tempfile
import time
import tracemalloc

import numpy as np
from mmengine.dataset import BaseDataset

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

from al_plugin.datasets import ActiveDatasetSplitter  # noqa: E402
from al_plugin.engine.selection import gather_outputs, select  # noqa: E402
from al_plugin.strategies import (CoreSetStrategy,  # noqa: E402
                                  InstanceUncertaintyStrategy)
from al_plugin.utils import atomic_write_json  # noqa: E402
from benchmarks.machine import machine  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)
CORESET_SIZES = (10_000, 30_000, 100_000)


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
    if tracemalloc.is_tracing():  # measure from here: not the set-up
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    timings = {}
    start = time.perf_counter()
    outputs, broken = gather_outputs(shards, pool)
    timings['gather'] = time.perf_counter() - start
    start = time.perf_counter()
    strategy = InstanceUncertaintyStrategy()
    chosen, all_scores, _ = select(strategy, outputs, splitter.budget(1),
                                   len(pool), seed=0)
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
    if tracemalloc.is_tracing():
        timings['peak_mib'] = (tracemalloc.get_traced_memory()[1] -
                               base) / 2**20
    return timings


def peak_memory(fn, *args) -> float:
    """Peak MiB allocated (Python and numpy) while ``fn(*args)`` runs."""
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def time_coreset(n: int, dim: int = 64) -> dict:
    """Core-set's greedy k-center on ``(n, dim)`` features with ``n // 20``
    labeled centers and ``budget = n // 40``: ``O(n x (n // 20 + budget))``
    distance evaluations, so the cost curve is quadratic in n."""
    rng = np.random.default_rng(0)
    outputs = dict(
        features=rng.random((n, dim), dtype=np.float32),
        labeled_features=rng.random((n // 20, dim), dtype=np.float32))
    strategy = CoreSetStrategy()
    start = time.perf_counter()
    select(strategy, outputs, n // 40, n, 0)
    seconds = time.perf_counter() - start
    peak = peak_memory(select, strategy, outputs, n // 40, n, 0)
    return dict(seconds=seconds, peak_mib=peak, dim=dim,
                input_mib=sum(v.nbytes for v in outputs.values()) / 2**20)


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
        with tempfile.TemporaryDirectory() as work_dir:
            tracemalloc.start()
            try:
                results[str(n)]['peak_mib'] = time_selection(
                    n, work_dir)['peak_mib']
            finally:
                tracemalloc.stop()
        print(f'{n:>9} images: ' + ', '.join(
            f'{k} {v:.3f} s' for k, v in results[str(n)].items()
            if k not in ('output_bytes', 'peak_mib')) +
            f', peak {results[str(n)]["peak_mib"]:.1f} MiB')
    coreset = {}
    for n in CORESET_SIZES:
        coreset[str(n)] = time_coreset(n)
        print(f'core-set {n:>7} images: {coreset[str(n)]["seconds"]:.2f} s, '
              f'peak {coreset[str(n)]["peak_mib"]:.1f} MiB')
    record = dict(
        selection_seconds={n: r['total'] for n, r in results.items()},
        selection_peak_mib={n: r['peak_mib'] for n, r in results.items()},
        breakdown=results,
        coreset=coreset,
        machine=machine(),
        date=datetime.date.today().isoformat())
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    atomic_write_json(args.out, record)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
