"""What MI-AOD costs over plain detection, as ratios from one process run
(issue 7, items 2 and 3).

Scoring: seconds per image of MI-AOD's pool scoring (``instance_uncertainty``
through :func:`al_plugin.engine.scoring.compute_outputs`: backbone, neck and
the head's classifier towers; no box decoding, no NMS) over mmdet's
``model.test_step`` (preprocessing + ``predict`` with NMS), same trained
model, same images, same batch size. Versus the reference's way: batch size
1 and every image of the training set scored, the labeled ones included;
the ratio is for cycle 1 of the built-in experiment (3500 of 4000 images in
the pool).

Training: seconds per iteration of each MI-AOD phase (``label``: one step;
``min`` / ``max``: a labeled step then an unlabeled step) over one plain
RetinaNet step, same backbone, batch and batches; the headline weighs the
phases as the reference's cycle does (``epoch=2, epoch_ratio=[3, 1]``:
9 label, 2 min, 2 max epochs).

Batches are loaded once before timing (data loading is not measured);
every measurement is the median of ``--repeats`` passes, the passes of the
compared sides interleaved.

    .venv/bin/python benchmarks/cost.py [--checkpoint CYCLE_CKPT]

Needs the built-in set (``make data``); the checkpoint (a trained MI-AOD
model, e.g. from ``make demo``) makes ``predict`` see real detections: an
untrained model's scores are all below the score threshold, which would
make NMS free.
"""
import argparse
import datetime
import glob
import os.path as osp
import statistics
import sys
import tempfile
import time

import torch
from mmengine.config import Config
from mmengine.runner import Runner, load_checkpoint

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

from al_plugin.engine.scoring import compute_outputs  # noqa: E402
from al_plugin.models import build_adapter  # noqa: E402
from al_plugin.utils import atomic_write_json  # noqa: E402
from benchmarks.machine import machine  # noqa: E402

MIAOD_CONFIG = 'configs/miaod_digits.py'
RETINANET_CONFIG = 'configs/retinanet_digits.py'
#: the reference's cycle: label x9, min x2, max x2 epochs
REFERENCE_EPOCHS = dict(label=9, min=2, max=2)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--checkpoint', help='trained MI-AOD weights (default: the newest '
        'cycle_<c>.pth in work_dirs/miaod_digits)')
    parser.add_argument('--images', type=int, default=240)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument(
        '--out', default=osp.join(ROOT, 'benchmarks/results/cost.json'))
    return parser.parse_args()


def find_checkpoint(path):
    if path is None:
        found = sorted(
            glob.glob(osp.join(ROOT, 'work_dirs/miaod_digits/cycle_*.pth')),
            key=lambda p: int(p.rsplit('_', 1)[1].split('.')[0]))
        if not found:
            raise SystemExit('no trained MI-AOD checkpoint: run `make demo` '
                             'or pass --checkpoint')
        path = found[-1]
    if not osp.isfile(path):
        raise SystemExit(f'--checkpoint: no such file: {path}')
    return path


def build_runner(config: str, work_dir: str) -> Runner:
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.work_dir = work_dir
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.default_hooks.visualization.draw = False
    cfg.log_level = 'WARNING'
    return Runner.from_cfg(cfg)


def batches(runner: Runner, loader_cfg: dict, batch_size: int,
            num_images: int) -> list:
    cfg = dict(loader_cfg, batch_size=batch_size)
    loader = runner.build_dataloader(cfg, seed=0)
    out, seen = [], 0
    for data in loader:
        out.append(data)
        seen += len(data['inputs'])
        if seen >= num_images:
            break
    return out


def timed(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return time.perf_counter() - start


def median_times(sides: dict, repeats: int) -> dict:
    """``name -> (fn, items)``; median seconds of a pass over ``items``,
    the sides' passes interleaved."""
    samples = {name: [] for name in sides}
    for _ in range(repeats):
        for name, (fn, items) in sides.items():
            samples[name].append(timed(fn, items))
    return {name: statistics.median(s) for name, s in samples.items()}


def scoring_cost(args, work_dir: str) -> dict:
    runner = build_runner(MIAOD_CONFIG, work_dir)
    model = runner.model
    load_checkpoint(model, find_checkpoint(args.checkpoint),
                    map_location='cpu', logger='silent')
    model.eval()
    adapter = build_adapter(model)
    scorer_cfg = dict(runner.cfg.custom_hooks[0].get('scorer_cfg', {}))
    loader_cfg = runner.cfg.val_dataloader
    batch_size = runner.cfg.train_dataloader.batch_size
    batched = batches(runner, loader_cfg, batch_size, args.images)
    single = batches(runner, loader_cfg, 1, args.images)
    num = sum(len(b['inputs']) for b in batched)

    @torch.no_grad()
    def score(data):
        data = model.data_preprocessor(data, False)
        compute_outputs(adapter, data['inputs'], data['data_samples'],
                        ['instance_uncertainty'], scorer_cfg)

    @torch.no_grad()
    def predict(data):
        model.test_step(data)

    score(batched[0]), predict(batched[0]), score(single[0])  # warm up
    times = median_times(
        dict(score=(score, batched), predict=(predict, batched),
             score_bs1=(score, single[:num])), args.repeats)
    per_image = {k: v / num for k, v in times.items()}
    pool, total = 3500, 4000  # cycle 1 of the built-in experiment
    return dict(
        scoring_vs_predict_ratio=per_image['score'] / per_image['predict'],
        scoring_vs_reference_ratio=(pool * per_image['score']) /
        (total * per_image['score_bs1']),
        scoring_seconds_per_image=per_image,
        scoring_setup=dict(images=num, batch_size=batch_size,
                           reference_batch_size=1, pool=pool, total=total,
                           scorer_cfg=scorer_cfg))


def training_cost(args, work_dir: str) -> dict:
    miaod = build_runner(MIAOD_CONFIG, osp.join(work_dir, 'miaod'))
    miaod._train_loop = miaod.build_train_loop(miaod._train_loop)
    miaod.optim_wrapper = miaod.build_optim_wrapper(miaod.optim_wrapper)
    loop = miaod.train_loop
    loop.prepare()
    loop.build_cycle_loaders()
    n = args.iters + 2
    labeled = [b for _, b in zip(range(n), loop.labeled_loader)]
    unlabeled = [b for _, b in zip(range(n), loop.unlabeled_loader)]

    retina = build_runner(RETINANET_CONFIG, osp.join(work_dir, 'retina'))
    retina.optim_wrapper = retina.build_optim_wrapper(retina.optim_wrapper)
    retina.model.train()
    # the same images: labeled batches of the MI-AOD loop's X_L_0
    plain = list(labeled)

    entered = dict(phase=None)

    def phase_step(phase):
        spec = next(s for s in loop.plan if s.phase == phase)

        def step(item):
            if entered['phase'] != phase:  # once a pass, as an epoch does
                loop.epoch_in_cycle = loop.plan.index(spec)
                loop._enter_phase(spec)
                loop.model.train()
                entered['phase'] = phase
            if phase == 'label':
                loop.train_step(item[0])
            else:
                loop.model.set_unlabeled_step(phase)
                loop.train_step(item)

        return step

    def retina_step(data):
        retina.model.train_step(data, optim_wrapper=retina.optim_wrapper)

    pairs = list(zip(labeled, unlabeled))
    for phase in REFERENCE_EPOCHS:  # warm up
        for item in pairs[:2]:
            phase_step(phase)(item)
    for data in plain[:2]:
        retina_step(data)
    sides = {
        phase: (phase_step(phase), pairs[2:])
        for phase in REFERENCE_EPOCHS
    }
    sides['retinanet'] = (retina_step, plain[2:])
    times = median_times(sides, args.repeats)
    per_iter = {k: v / args.iters for k, v in times.items()}
    weighted = sum(REFERENCE_EPOCHS[p] * per_iter[p]
                   for p in REFERENCE_EPOCHS) / sum(REFERENCE_EPOCHS.values())
    return dict(
        train_iter_ratio=weighted / per_iter['retinanet'],
        train_phase_ratios={
            p: per_iter[p] / per_iter['retinanet']
            for p in REFERENCE_EPOCHS
        },
        train_seconds_per_iter=per_iter,
        train_setup=dict(
            iters=args.iters,
            batch_size=miaod.cfg.train_dataloader.batch_size,
            weights=REFERENCE_EPOCHS))


def main():
    args = parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as work_dir:
        result = scoring_cost(args, osp.join(work_dir, 'score'))
        result.update(training_cost(args, osp.join(work_dir, 'train')))
    result.update(
        machine=machine(),
        date=datetime.date.today().isoformat(),
        threads=torch.get_num_threads())
    atomic_write_json(args.out, result)
    for key, value in result.items():
        print(f'{key}: {value}')


if __name__ == '__main__':
    main()
