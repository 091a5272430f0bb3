"""benchmarks/label_efficiency.py: the compare.py / validate_splits.py
command lines it builds (pools, branches, MI-AOD's random control, the
validation schedule) and its summary of finished runs (curves, boxes,
paired gains by seed, validation runs), with parts missing. No training."""
import json
import os.path as osp

import pytest

from benchmarks import label_efficiency as le

REDUNDANT = 'data/digits_redundant/VOCdevkit/'


def option_dict(options):
    """``key=value`` options as a dict, the last of a key winning (as
    tools/train.py merges them)."""
    return dict(o.split('=', 1) for o in options)


def steps_of(argv):
    args = le.parse_args(argv)
    return args, {(s.stage, tuple(s.configs)): s
                  for s in le.plan_steps(args)}


def test_pools_set_the_data_root_of_every_run_and_their_work_dir():
    args, steps = steps_of(['--pool', 'digits'])
    assert args.work_dir == osp.join(
        'work_dirs/benchmarks/label_efficiency_v2', 'digits')
    for step in steps.values():  # the configs' own data
        assert not set(option_dict(step.options)) & set(le.DATA_ROOT_KEYS)
    args, steps = steps_of(['--pool', 'redundant', '--seeds', '3'])
    assert args.work_dir.endswith('label_efficiency_v2/redundant')
    for step in steps.values():
        options = option_dict(step.options)
        assert [options[k] for k in le.DATA_ROOT_KEYS] == [REDUNDANT] * 4
        assert step.seeds == [3]
        assert step.work_dir.startswith(args.work_dir)
    assert le.output_name('redundant') == 'label_efficiency_redundant'
    assert le.output_name('digits') == 'label_efficiency'
    # --extra comes last: it overrides the protocol (a tiny smoke run)
    _, steps = steps_of(['--pool', 'redundant', '--data-root', 'tiny/',
                         '--extra', 'train_cfg.splitter.X_S_size=4'])
    for step in steps.values():
        options = option_dict(step.options)
        assert options['train_cfg.splitter.X_S_size'] == '4'
        assert options[le.DATA_ROOT_KEYS[0]] == 'tiny/'


def test_curves_branch_from_random_at_cycle_0_and_miaod_runs_straight():
    args, steps = steps_of(['--jobs', '2'])
    order = [(s.stage, tuple(s.configs)) for s in le.plan_steps(args)]
    # a branch's source runs before it
    assert order.index(('curves', ('random', ))) < order.index(
        ('curves', ('entropy', 'coreset', 'mining')))
    assert order.index(('curves', ('miaod', ))) < order.index(
        ('branch', ('miaod', )))
    random = steps['curves', ('random', )]
    cmd = le.compare_command(random, 2)
    assert '--branch-from' not in cmd
    assert cmd[cmd.index('--jobs') + 1] == '2'
    options = option_dict(random.options)
    assert options['train_cfg.cycles'] == '[0,1,2,3,4]'
    assert options['train_cfg.splitter.X_L_0_size'] == '500'
    assert options['train_cfg.splitter.X_S_size'] == '100'
    assert options['train_cfg.reset_weights'] == 'False'
    assert options['train_cfg.X_L_0_repeat'] == '4'
    # the sources keep every cycle's trained model for the branches
    assert options['train_cfg.max_keep_trained_ckpts'] == '-1'
    assert option_dict(steps['curves', ('miaod', )].options)[
        'train_cfg.max_keep_trained_ckpts'] == '-1'

    branched = steps['curves', ('entropy', 'coreset', 'mining')]
    cmd = le.compare_command(branched, 1)
    assert cmd[cmd.index('--branch-from') + 1] == osp.join(
        args.work_dir, 'random')
    assert cmd[cmd.index('--branch-cycle') + 1] == '0'
    assert cmd[cmd.index('--names') + 1:cmd.index('--seeds')] == [
        'entropy', 'coreset', 'mining']
    assert cmd[cmd.index('--work-dir') + 1] == args.work_dir
    assert option_dict(branched.options)['train_cfg.cycles'] == \
        '[0,1,2,3,4]'

    miaod = le.compare_command(steps['curves', ('miaod', )], 1)
    assert '--branch-from' not in miaod
    options = option_dict(steps['curves', ('miaod', )].options)
    assert (options['train_cfg.epoch'], options['train_cfg.epoch_ratio'],
            options['train_cfg.X_L_repeat'],
            options['train_cfg.X_U_repeat']) == ('1', '[3,1]', '1', '1')


def test_branched_comparison_commands():
    args, steps = steps_of(['--seeds', '0', '1', '2'])
    label = steps['branch', ('random', 'entropy', 'coreset', 'mining')]
    cmd = le.compare_command(label, 1)
    assert cmd[cmd.index('--branch-from') + 1] == osp.join(
        args.work_dir, 'random')
    assert cmd[cmd.index('--branch-cycle') + 1] == '1'
    assert cmd[cmd.index('--seeds') + 1:cmd.index('--work-dir')] == \
        ['0', '1', '2']
    # every strategy picks once from the cycle-1 model and trains cycle 2
    assert option_dict(label.options)['train_cfg.cycles'] == '[0,1,2]'
    assert label.work_dir == osp.join(args.work_dir, 'branch_cycle1')

    control = steps['branch', (le.MIAOD_RANDOM, )]
    miaod = steps['branch', ('miaod', )]
    for step in (control, miaod):
        cmd = le.compare_command(step, 1)
        assert step.configs[cmd[cmd.index('--names') + 1]] == \
            le.MIAOD['miaod']
        assert cmd[cmd.index('--branch-from') + 1] == osp.join(
            args.work_dir, 'miaod')
        assert cmd[cmd.index('--baseline') + 1] == le.MIAOD_RANDOM
        assert step.work_dir == osp.join(args.work_dir,
                                         'branch_cycle1_miaod')
    # MI-AOD's model picking at random: only the strategy differs
    assert option_dict(control.options) == dict(
        option_dict(miaod.options),
        **{'custom_hooks.0.strategy.type': 'RandomStrategy'})
    cfg = le.load_config(le.MIAOD['miaod'], control.options)
    assert cfg.custom_hooks[0].strategy == dict(type='RandomStrategy')
    assert cfg.model.type == 'MIAOD'
    assert cfg.train_cfg.cycles == [0, 1, 2]

    args, steps = steps_of(['--cycles', '0', '1', '2', '3',
                            '--branch-cycle', '2'])
    step = steps['branch', ('random', 'entropy', 'coreset', 'mining')]
    assert option_dict(step.options)['train_cfg.cycles'] == '[0,1,2,3]'
    assert step.work_dir.endswith('branch_cycle2')
    with pytest.raises(SystemExit):
        le.parse_args(['--cycles', '0', '1', '--branch-cycle', '1'])


def test_run_settings_read_the_backbone_init_and_schedule():
    args, _ = steps_of([])
    settings = le.run_settings(le.plan_steps(args))
    assert settings['pretrained'] is True
    runs = settings['strategies']
    assert set(runs) == set(le.LABEL_LOOP) | set(le.MIAOD)
    assert runs['random']['backbone_checkpoint'].endswith('.pth')
    # the label loop's own schedule: 8 epochs, lr x0.1 in the last
    assert runs['entropy']['schedule']['epochs'] == 8
    assert runs['entropy']['schedule']['lr_decay_epochs'] == [7]
    assert runs['miaod']['schedule']['epoch_ratio'] == [3, 1]
    assert runs['miaod']['schedule']['X_L_0_size'] == 500
    args = le.parse_args(['--extra', 'model.backbone.init_cfg=None'])
    assert le.run_settings(le.plan_steps(args))['pretrained'] is False


def test_validation_schedule_trains_like_cycle_0():
    # cycle 4's 900 images at batch 8: 113 iterations an epoch
    schedule = le.validation_schedule(900, 8, 2000)
    assert (schedule['epochs'], schedule['iterations']) == (18, 2034)
    cfg = le.load_config(le.VALIDATION_CONFIG, schedule['options'])
    assert cfg.train_cfg.max_epochs == 18
    assert cfg.train_cfg.val_interval > 18
    warmup, steps = cfg.param_scheduler
    assert warmup.start_factor == 1.0  # no warm-up, as the loop's cycle 0
    assert (steps.end, steps.milestones) == (18, [16])
    assert le.pretrained_checkpoint(cfg) is not None
    assert le.validation_schedule(16, 8, 8)['epochs'] == 4
    assert le.validation_schedule(900, 8, 1)['epochs'] == 1


def row(strategy, seed, cycle, value, boxes=None, labeled=None):
    labeled = labeled or 500 + 100 * cycle
    return dict(strategy=strategy, seed=seed, cycle=cycle,
                num_labeled=labeled, num_total=4000,
                labeled_fraction=labeled / 4000,
                num_labeled_boxes=boxes, num_labeled_ignored_boxes=0,
                AP50=value, AP=None, metrics={'pascal_voc/mAP': value})


def write_compare(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(runs=[], rows=rows)))


def write_validation(folder, work_dirs, values):
    folder.mkdir(parents=True)
    runs = [dict(name=osp.basename(w), work_dir=w, cycle=4, num_labeled=900,
                 num_boxes=2000, num_ignored_boxes=10, img_ids=[],
                 results=[dict(seed=s, metric='pascal_voc/mAP', value=v)
                          for s, v in enumerate(vals)],
                 summary=dict(n=len(vals), mean=sum(vals) / len(vals),
                              std=0.0, min=min(vals), max=max(vals)))
            for w, vals in zip(work_dirs, values)]
    (folder / 'validation.json').write_text(json.dumps(dict(
        config=le.VALIDATION_CONFIG, config_digest='x',
        metric='pascal_voc/mAP', repeats=3, runs=runs)))


def test_summary_of_finished_parts(tmp_path):
    wd = tmp_path / 'wd'
    # curves: random and entropy for seeds 0 and 1; entropy picks
    # crowded images
    write_compare(wd / 'compare.json', [
        row('random', 0, 0, 0.30, 1500), row('random', 0, 1, 0.40, 1800),
        row('random', 1, 0, 0.32, 1510), row('random', 1, 1, 0.42, 1820),
        row('entropy', 0, 0, 0.30, 1500), row('entropy', 0, 1, 0.43, 2000),
        row('entropy', 1, 0, 0.32, 1510), row('entropy', 1, 1, 0.44, 2040),
        row('random', 5, 1, 0.99, 1),  # a seed not asked for
    ])
    # branched from random's cycle-1 model: coreset lacks seed 1
    write_compare(wd / 'branch_cycle1' / 'compare.json', [
        row('random', 0, 1, 0.40), row('random', 0, 2, 0.45),
        row('random', 1, 2, 0.47), row('entropy', 0, 2, 0.44),
        row('entropy', 1, 2, 0.50), row('coreset', 0, 2, 0.48),
        row('coreset', 1, 1, 0.42),  # cycle 1 is the source's
    ])
    write_compare(wd / 'branch_cycle1_miaod' / 'compare.json', [
        row(le.MIAOD_RANDOM, 0, 2, 0.30), row('miaod', 0, 2, 0.36),
    ])
    write_validation(wd / 'validate' / 'random',
                     [str(wd / 'random/seed0')], [[0.40, 0.42, 0.44]])
    args = le.parse_args(['--work-dir', str(wd), '--seeds', '0', '1',
                          '--out', str(tmp_path / 'out')])
    result = le.summary(args, le.plan_steps(args))

    assert result['map_per_cycle']['random'] == [
        [pytest.approx(0.31), pytest.approx(0.01)],
        [pytest.approx(0.41), pytest.approx(0.01)]]
    assert result['seeds_per_cycle'] == {'random': [2, 2],
                                         'entropy': [2, 2]}
    assert result['boxes_per_cycle'] == {'random': [1505.0, 1810.0],
                                         'entropy': [1505.0, 2020.0]}
    assert result['gain_over_random']['entropy'][1] == [
        pytest.approx(0.025), pytest.approx(0.005), 2]
    assert result['random_final_map'] == pytest.approx(0.41)
    assert result['label_fraction_to_match_random']['entropy'] < 0.15

    gains = result['paired_selection_gain']
    assert set(gains) == {'entropy', 'coreset', 'miaod'}
    assert gains['entropy']['per_seed'] == {'0': pytest.approx(-0.01),
                                            '1': pytest.approx(0.03)}
    assert (gains['entropy']['mean'], gains['entropy']['std'],
            gains['entropy']['n']) == (pytest.approx(0.01),
                                       pytest.approx(0.02), 2)
    assert gains['entropy']['model'] == 'random'
    assert gains['entropy']['cycle'] == 2
    assert (gains['coreset']['seeds'], gains['coreset']['mean']) == \
        ([0], pytest.approx(0.03))
    assert gains['coreset']['baseline_map'] == pytest.approx(0.45)
    # MI-AOD's picks against random picks from MI-AOD's own model
    assert gains['miaod']['model'] == 'miaod'
    assert gains['miaod']['baseline'] == le.MIAOD_RANDOM
    assert gains['miaod']['mean'] == pytest.approx(0.06)

    validation = result['validation_map']
    assert list(validation) == ['random']  # the others have not run
    assert (validation['random']['mean'], validation['random']['n']) == \
        (pytest.approx(0.42), 3)
    assert validation['random']['std'] == pytest.approx(0.0163299, 1e-4)
    assert validation['random']['runs'][0]['num_boxes'] == 2000
    assert result['pretrained'] is True
    assert result['pool'] == 'digits'

    # the same numbers as markdown tables, for RESULTS.md
    text = le.markdown(result)
    assert '| strategy | 12.5 % | 15.0 % |' in text
    assert '| entropy | 0.310 ± 0.010 (2) | 0.435 ± 0.005 (2) |' in text
    assert '| entropy | +0.0 ± 0.0 (2) | +2.5 ± 0.5 (2) |' in text  # gain
    assert '| entropy | 1505 | 2020 |' in text  # boxes
    assert '| coreset | random | random | 1 | 0.480 | 0.450 | +3.0 ± 0.0 |' \
        in text
    assert '| miaod | miaod | miaod_random | 1 | 0.360 | 0.300 |' in text
    assert '| random | 3 | 0.420 ± 0.016 | 2000 |' in text


def test_summary_with_nothing_finished(tmp_path):
    args = le.parse_args(['--work-dir', str(tmp_path / 'none'), '--out',
                          str(tmp_path / 'out'), '--stage', 'summary'])
    result = le.summary(args, le.plan_steps(args))
    assert result['map_per_cycle'] == {}
    assert result['paired_selection_gain'] == {}
    assert result['validation_map'] == {}
    assert result['label_fraction_to_match_random'] == {}
    assert result['random_final_map'] is None
    assert '(no finished cycle yet)' in le.markdown(result)


def test_validation_jobs_retrain_the_final_labeled_sets(tmp_path):
    wd = tmp_path / 'wd'
    args = le.parse_args(['--work-dir', str(wd), '--pool', 'redundant',
                          '--validation-seeds', '0', '1',
                          '--validation-extra', 'randomness.seed=7'])
    rows = [row('random', s, 4, 0.5, labeled=900) for s in (0, 1)] + \
        [row('entropy', 0, 4, 0.5, labeled=900),
         row('entropy', 1, 3, 0.5, labeled=800)]
    jobs = le.validation_jobs(args, rows)
    assert [j['name'] for j in jobs] == ['random']  # entropy unfinished
    cmd = jobs[0]['command']
    assert cmd[2:4] == [str(wd / 'random/seed0'), str(wd / 'random/seed1')]
    assert cmd[cmd.index('--config') + 1] == le.VALIDATION_CONFIG
    assert cmd[cmd.index('--repeats') + 1] == '3'
    assert cmd[cmd.index('--cycle') + 1] == '4'
    assert cmd[cmd.index('--work-dir') + 1] == str(wd / 'validate/random')
    options = option_dict(cmd[cmd.index('--cfg-options') + 1:])
    assert [options[k] for k in le.DATA_ROOT_KEYS] == [REDUNDANT] * 4
    assert options['train_cfg.max_epochs'] == '18'
    assert options['randomness.seed'] == '7'
    settings = jobs[0]['settings']
    assert (settings['iterations'], settings['batch_size']) == (2034, 8)
    assert settings['backbone_checkpoint'].endswith('.pth')


def test_summary_stage_writes_the_json_and_plots(tmp_path):
    wd = tmp_path / 'wd'
    write_compare(wd / 'compare.json', [
        row('random', 0, 0, 0.30, 1500), row('random', 0, 1, 0.40, 1800),
        row('mining', 0, 0, 0.30, 1500), row('mining', 0, 1, 0.38, 1700)])
    out = tmp_path / 'out'
    le.main(['--stage', 'summary', '--pool', 'redundant', '--work-dir',
             str(wd), '--seeds', '0', '--out', str(out)])
    result = json.loads((out / 'label_efficiency_redundant.json').read_text())
    assert result['map_per_cycle']['mining'][1] == [0.38, 0.0]
    assert result['seeds'] == [0]
    text = (out / 'label_efficiency_redundant.md').read_text()
    assert text.startswith('redundant pool')
    assert '| mining | 0.300 ± 0.000 (1) | 0.380 ± 0.000 (1) |' in text
    for name in ('', '_gain', '_boxes'):
        for ext in ('png', 'svg'):
            assert (out / f'label_efficiency_redundant{name}.{ext}').stat(
            ).st_size > 0
