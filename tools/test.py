"""Evaluate a checkpoint with the config's test dataloader and evaluator.

The same command line as mmdet's ``tools/test.py`` (without TTA/visualising).
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

from al_plugin.engine import (build_runner,  # noqa: E402
                              check_selection_hooks,
                              setup_cpu_distributed,
                              teardown_cpu_distributed)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
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
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint

    gloo = setup_cpu_distributed(cfg)
    runner = build_runner(cfg, hooks)

    if args.out is not None:
        assert args.out.endswith(('.pkl', '.pickle')), \
            '--out only supports pickle files (.pkl / .pickle)'
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))

    runner.test()
    del runner  # DDP holds the gloo group: free it before closing it
    teardown_cpu_distributed(gloo)


if __name__ == '__main__':
    main()
