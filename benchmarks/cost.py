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

Training at real size (``r50``): the same phases and weights with the
paper's network, ``configs/_base_/models/miaod_retinanet_r50_fpn.py`` against
mmdet's ``retinanet_r50_fpn.py`` (ResNet-50 FPN, 256-channel head, VOC's 20
classes, random init, nothing downloaded), SGD as the reference runs it,
batch 1, 512x512 images (a few built-in digits canvases made at that size in
a temporary folder); the median of ``--r50-iters`` single iterations per
side, the sides' iterations interleaved round by round after one warm-up
round, each phase entered (trainable parameters, fresh optimizer state)
untimed before each of its iterations. On one thread, timed in process CPU
seconds (the headline; wall-clock seconds are kept too), so that a CPU
shared with other jobs slows the wall clock, not the ratio; plus the
iterations' floating-point operations (``FlopCounterMode``), a ratio no
machine load changes.

Batches are loaded once before timing (data loading is not measured);
every other measurement is the median of ``--repeats`` passes, the passes of
the compared sides interleaved.

    .venv/bin/python benchmarks/cost.py [--checkpoint CYCLE_CKPT]
    .venv/bin/python benchmarks/cost.py --only r50   # minutes, no data

Needs the built-in set (``make data``, not for ``r50``); the checkpoint (a
trained MI-AOD model, e.g. from ``make demo``) makes ``predict`` see real
detections: an untrained model's scores are all below the score threshold,
which would make NMS free. ``--only`` runs some of the parts (``scoring``,
``train``, ``r50``) and updates their keys in an existing ``--out``.
"""
import argparse
import copy
import datetime
import glob
import json
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.runner import Runner, load_checkpoint
from torch.utils.flop_counter import FlopCounterMode

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

from al_plugin.datasets.dataset_tree import leaf_datasets  # noqa: E402
from al_plugin.engine.scoring import compute_outputs  # noqa: E402
from al_plugin.models import build_adapter  # noqa: E402
from al_plugin.utils import atomic_write_json  # noqa: E402
from benchmarks.machine import machine  # noqa: E402

MIAOD_CONFIG = 'configs/miaod_digits.py'
RETINANET_CONFIG = 'configs/retinanet_digits.py'
#: the reference's cycle: label x9, min x2, max x2 epochs
REFERENCE_EPOCHS = dict(label=9, min=2, max=2)
PARTS = ('scoring', 'train', 'r50')
#: the real-size models: the paper's MI-AOD and the plain RetinaNet
R50_MODELS = dict(
    miaod='configs/_base_/models/miaod_retinanet_r50_fpn.py',
    retinanet='mmdet::_base_/models/retinanet_r50_fpn.py')
R50_NUM_CLASSES = 20  # VOC's, as in the paper
R50_IMAGE_SIZE = 512
R50_WARMUP_ROUNDS = 1
#: one thread: its process CPU time is the step's own work, which waiting
#: for a busy core (or spinning at a parallel barrier) does not inflate
R50_THREADS = 1
#: SGD as the reference runs it (``MIAOD_SPEC.md``), no clipping
REFERENCE_OPTIM_WRAPPER = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--checkpoint', help='trained MI-AOD weights (default: the newest '
        'cycle_<c>.pth in work_dirs/miaod_digits)')
    parser.add_argument('--images', type=int, default=240)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument(
        '--r50-iters', type=int, default=5,
        help='timed iterations per side of the R-50 measurement')
    parser.add_argument(
        '--only', nargs='+', choices=PARTS, default=list(PARTS),
        help='parts to run (default: all); their keys replace those in an '
        'existing --out')
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


def load_config(config: str, work_dir: str) -> Config:
    """``config`` (relative to the repository) set up for timing: no
    loader workers, no drawing, warnings only."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.work_dir = work_dir
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.default_hooks.visualization.draw = False
    cfg.log_level = 'WARNING'
    return cfg


def build_runner(config: str, work_dir: str) -> Runner:
    return Runner.from_cfg(load_config(config, work_dir))


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


def miaod_loop_batches(runner: Runner, num: int):
    """Build ``runner``'s MI-AOD loop for its first cycle; return it with
    ``num`` (labeled batch, unlabeled batch) pairs of its loaders."""
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    loop = runner.train_loop
    loop.prepare()
    loop.build_cycle_loaders()
    labeled = [b for _, b in zip(range(num), loop.labeled_loader)]
    unlabeled = [b for _, b in zip(range(num), loop.unlabeled_loader)]
    return loop, list(zip(labeled, unlabeled))


def enter_phase(loop, phase: str) -> None:
    """Ready ``loop`` for ``phase`` as its first epoch of that phase would:
    trainable parameters, fresh optimizer state, lr, unlabeled step."""
    spec = next(s for s in loop.plan if s.phase == phase)
    loop.epoch_in_cycle = loop.plan.index(spec)
    loop.enter_phase(spec)
    loop.model.train()
    if phase != 'label':
        loop.model.set_unlabeled_step(phase)


def phase_iteration(loop, phase: str, pair: tuple) -> None:
    """One iteration of ``phase`` on a (labeled, unlabeled) pair: a labeled
    step, then for ``min`` / ``max`` an unlabeled step."""
    loop.train_step(pair[0] if phase == 'label' else pair)


def training_cost(args, work_dir: str) -> dict:
    miaod = build_runner(MIAOD_CONFIG, osp.join(work_dir, 'miaod'))
    loop, pairs = miaod_loop_batches(miaod, args.iters + 2)

    retina = build_runner(RETINANET_CONFIG, osp.join(work_dir, 'retina'))
    retina.optim_wrapper = retina.build_optim_wrapper(retina.optim_wrapper)
    retina.model.train()
    # the same images: labeled batches of the MI-AOD loop's X_L_0
    plain = [labeled for labeled, _ in pairs]

    entered = dict(phase=None)

    def phase_step(phase):

        def step(item):
            if entered['phase'] != phase:  # once a pass, as an epoch does
                enter_phase(loop, phase)
                entered['phase'] = phase
            phase_iteration(loop, phase, item)

        return step

    def retina_step(data):
        retina.model.train_step(data, optim_wrapper=retina.optim_wrapper)

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
    ratio, phase_ratios = weighted_ratios(per_iter)
    return dict(
        train_iter_ratio=ratio,
        train_phase_ratios=phase_ratios,
        train_seconds_per_iter=per_iter,
        train_setup=dict(
            iters=args.iters,
            batch_size=miaod.cfg.train_dataloader.batch_size,
            weights=REFERENCE_EPOCHS))


def weighted_ratios(per_iter: dict) -> tuple:
    """``(reference-mix ratio, per-phase ratios)`` of MI-AOD's cost per
    iteration (seconds or operations) over RetinaNet's
    (``per_iter['retinanet']``)."""
    weighted = sum(REFERENCE_EPOCHS[p] * per_iter[p]
                   for p in REFERENCE_EPOCHS) / sum(REFERENCE_EPOCHS.values())
    return (weighted / per_iter['retinanet'],
            {p: per_iter[p] / per_iter['retinanet']
             for p in REFERENCE_EPOCHS})


def iteration_times(sides: dict, rounds: int, warmup: int) -> dict:
    """``name -> (enter, step, items)``; the wall-clock and the process CPU
    seconds of each ``step(item)``, one iteration of every side a round
    (``items[i]`` in round ``i``), ``enter()`` untimed before each. The
    first ``warmup`` rounds are not kept.

    Returns:
        dict: ``{'wall': {name: [seconds]}, 'cpu': {name: [seconds]}}``.
    """
    samples = dict(wall={name: [] for name in sides},
                   cpu={name: [] for name in sides})
    for i in range(warmup + rounds):
        for name, (enter, step, items) in sides.items():
            enter()
            wall, cpu = time.perf_counter(), time.process_time()
            step(items[i])
            if i >= warmup:
                samples['wall'][name].append(time.perf_counter() - wall)
                samples['cpu'][name].append(time.process_time() - cpu)
    return samples


def r50_model_cfg(path: str) -> dict:
    """The ``model`` of ``path`` (``pkg::`` or repository-relative),
    randomly initialised, with VOC's classes."""
    cfg = get_config(path) if '::' in path else Config.fromfile(
        osp.join(ROOT, path))
    model = cfg.model
    model.backbone.init_cfg = None
    model.bbox_head.num_classes = R50_NUM_CLASSES
    return model


def r50_config(config: str, model: str, data_root: str,
               work_dir: str) -> Config:
    """``config`` with the R-50 ``model``, the reference's SGD, batch 1 and
    the train pools read from ``data_root`` at ``R50_IMAGE_SIZE``."""
    cfg = load_config(config, work_dir)
    cfg.model = r50_model_cfg(model)
    cfg.optim_wrapper = copy.deepcopy(REFERENCE_OPTIM_WRAPPER)
    cfg.train_dataloader.batch_size = 1
    for dataset in leaf_datasets(cfg.train_dataloader.dataset):
        dataset.data_root = osp.join(data_root, 'VOCdevkit')
        for step in dataset.pipeline:
            if step.type == 'Resize':
                step.scale = (R50_IMAGE_SIZE, R50_IMAGE_SIZE)
    return cfg


def step_flops(enter, step, item) -> int:
    """Floating-point operations (forward and backward) of one ``step``,
    as torch's ``FlopCounterMode`` counts them (matmuls and convolutions)."""
    enter()
    with FlopCounterMode(display=False) as counter:
        step(item)
    return counter.get_total_flops()


def training_cost_r50(args, work_dir: str) -> dict:
    if args.r50_iters < 1:
        raise SystemExit(f'--r50-iters must be >= 1, got {args.r50_iters}')
    num = R50_WARMUP_ROUNDS + args.r50_iters
    data_root = osp.join(work_dir, 'digits_det')
    subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'make_digits_det.py'), '--out', data_root,
        '--num-trainval', str(2 * num + 2), '--num-test', '1',
        '--min-size', str(R50_IMAGE_SIZE), '--max-size', str(R50_IMAGE_SIZE)
    ], check=True, stdout=subprocess.DEVNULL)

    cfg = r50_config(MIAOD_CONFIG, R50_MODELS['miaod'], data_root,
                     osp.join(work_dir, 'miaod'))
    cfg.train_cfg.splitter.update(X_L_0_size=num, X_S_size=1)
    miaod = Runner.from_cfg(cfg)
    miaod.model.init_weights()
    loop, pairs = miaod_loop_batches(miaod, num)
    if len(pairs) < num:
        raise RuntimeError(f'the R-50 MI-AOD loop gave {len(pairs)} '
                           f'batch pairs, need {num}')

    retina = Runner.from_cfg(
        r50_config(RETINANET_CONFIG, R50_MODELS['retinanet'], data_root,
                   osp.join(work_dir, 'retina')))
    retina.model.init_weights()
    retina.optim_wrapper = retina.build_optim_wrapper(retina.optim_wrapper)

    def retina_step(pair):
        retina.model.train_step(pair[0], optim_wrapper=retina.optim_wrapper)

    sides = {
        phase: (lambda p=phase: enter_phase(loop, p),
                lambda pair, p=phase: phase_iteration(loop, p, pair), pairs)
        for phase in REFERENCE_EPOCHS
    }
    # the same labeled images
    sides['retinanet'] = (retina.model.train, retina_step, pairs)
    threads = torch.get_num_threads()
    torch.set_num_threads(R50_THREADS)
    try:
        samples = iteration_times(sides, args.r50_iters, R50_WARMUP_ROUNDS)
    finally:
        torch.set_num_threads(threads)
    flops = {
        name: step_flops(enter, step, items[0])
        for name, (enter, step, items) in sides.items()
    }
    per_iter = {k: statistics.median(v) for k, v in samples['cpu'].items()}
    wall_per_iter = {
        k: statistics.median(v)
        for k, v in samples['wall'].items()
    }
    ratio, phase_ratios = weighted_ratios(per_iter)
    shapes = {tuple(pair[0]['inputs'][0].shape[-2:]) for pair in pairs}
    return dict(
        train_iter_ratio_r50=ratio,
        train_phase_ratios_r50=phase_ratios,
        train_seconds_per_iter_r50=per_iter,
        train_wall_seconds_per_iter_r50=wall_per_iter,
        train_flop_ratio_r50=weighted_ratios(flops)[0],
        train_flops_per_iter_r50=flops,
        train_r50_setup=dict(
            models=R50_MODELS,
            num_classes=R50_NUM_CLASSES,
            image_shapes=sorted(shapes),
            batch_size=1,
            iters=args.r50_iters,
            warmup_rounds=R50_WARMUP_ROUNDS,
            weights=REFERENCE_EPOCHS,
            optimizer=REFERENCE_OPTIM_WRAPPER['optimizer'],
            seconds=samples,
            threads=R50_THREADS,
            machine=machine(),
            date=datetime.date.today().isoformat()))


def main():
    args = parse_args()
    parts = set(args.only)
    torch.manual_seed(0)
    result = {}
    if parts != set(PARTS) and osp.exists(args.out):
        with open(args.out) as f:
            result = json.load(f)
    with tempfile.TemporaryDirectory() as work_dir:
        if 'scoring' in parts:
            result.update(scoring_cost(args, osp.join(work_dir, 'score')))
        if 'train' in parts:
            result.update(training_cost(args, osp.join(work_dir, 'train')))
        if 'r50' in parts:
            result.update(training_cost_r50(args, osp.join(work_dir, 'r50')))
    if parts & {'scoring', 'train'}:
        result.update(
            machine=machine(),
            date=datetime.date.today().isoformat(),
            threads=torch.get_num_threads())
    atomic_write_json(args.out, result)
    for key, value in result.items():
        print(f'{key}: {value}')


if __name__ == '__main__':
    main()
