"""Train a detector or run a whole active-learning experiment.

The same command line as mmdet's ``tools/train.py``.  An active-learning
config names the plugin's loop as ``train_cfg`` and the whole experiment
(every cycle, its selection and files) runs inside ``runner.train()``.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.logging import print_log

# `projects.<Name>` packages are imported relative to the repository root.
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

from al_plugin.engine import (build_runner,  # noqa: E402
                              check_selection_hooks,
                              find_resume_checkpoint, setup_cpu_distributed,
                              teardown_cpu_distributed)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # a misspelt strategy name or option fails here, before the work dir;
    # the hooks built to check it are the run's (its strategy built once)
    hooks = check_selection_hooks(cfg)

    # work_dir: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError('--auto-scale-lr needs `auto_scale_lr` with '
                               '`base_batch_size` in the config')
        cfg.auto_scale_lr.enable = True

    # resume: an explicit checkpoint, or the latest one in work_dir (what
    # `last_checkpoint` names, else the newest checkpoint file there)
    if args.resume == 'auto':
        cfg.load_from = find_resume_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
        if not cfg.resume:
            print_log(f'--resume: no checkpoint in {cfg.work_dir}, starting '
                      'from scratch', logger='current')
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    # CPU-only machines: gloo process group + DDP without device_ids
    gloo = setup_cpu_distributed(cfg)

    runner = build_runner(cfg, hooks)
    runner.train()
    del runner  # DDP holds the gloo group: free it before closing it
    teardown_cpu_distributed(gloo)


if __name__ == '__main__':
    main()
