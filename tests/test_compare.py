"""tools/compare.py runs strategies over seeds (or branched from one run's
trained model); tools/plot_curves.py draws what it collected;
al_plugin.evaluation.curves aggregates."""
import csv
import importlib.util
import json
import os.path as osp
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image

from al_plugin.evaluation.curves import (CurvePoint, curves, fraction_to_reach,
                                         paired_differences)
from .conftest import REPO, run_tool
from .test_analysis import pool_annotations
from .test_resume import _data_root_options

CONFIG = 'tests/configs/random_digits_tiny.py'
ENTROPY_CONFIG = 'tests/configs/entropy_digits_tiny.py'


def _row(strategy, seed, cycle, fraction, ap50):
    return dict(strategy=strategy, seed=seed, cycle=cycle,
                labeled_fraction=fraction, AP50=ap50, AP=None,
                metrics={'pascal_voc/mAP': ap50})


def test_curves_mean_and_std_over_seeds():
    rows = [_row('a', 0, 0, 0.1, 0.2), _row('a', 1, 0, 0.1, 0.4),
            _row('a', 0, 1, 0.2, 0.5), _row('b', 0, 0, 0.1, 0.3)]
    out = curves(rows)
    assert list(out) == ['a', 'b']
    assert out['a'][0] == CurvePoint(0, 0.1, pytest.approx(0.3),
                                     pytest.approx(0.1), 2)
    assert out['a'][1].num_seeds == 1
    assert curves(rows, 'pascal_voc/mAP')['b'][0].mean == 0.3


def test_paired_differences_subtract_the_same_seed_and_cycle():
    rows = [_row('random', 0, 0, 0.1, 0.2), _row('random', 1, 0, 0.1, 0.4),
            _row('a', 0, 0, 0.1, 0.25), _row('a', 1, 0, 0.1, 0.49),
            _row('a', 2, 0, 0.1, 0.9),  # no random run for seed 2
            _row('a', 0, 1, 0.2, 0.5)]  # nor for cycle 1
    out = paired_differences(rows)
    assert list(out) == ['a']
    assert out['a'] == [
        CurvePoint(0, 0.1, pytest.approx(0.07), pytest.approx(0.02), 2)
    ]


def test_fraction_to_reach_interpolates():
    curve = [CurvePoint(0, 0.1, 0.2, 0, 1), CurvePoint(1, 0.2, 0.4, 0, 1)]
    assert fraction_to_reach(curve, 0.3) == pytest.approx(0.15)
    assert fraction_to_reach(curve, 0.1) == 0.1
    assert fraction_to_reach(curve, 0.5) is None


@pytest.fixture(scope='module')
def compared(tmp_path_factory, digits_root):
    out = tmp_path_factory.mktemp('compare')
    options = ['--cfg-options', 'train_cfg.cycles=[0,1]'] + \
        _data_root_options(digits_root)
    run_tool(['tools/compare.py', CONFIG, '--names', 'random', '--seeds',
              '0', '1', '--work-dir', str(out)] + options)
    # called again: the finished runs are skipped, not repeated, and the
    # earlier call's runs stay in the outputs
    again = run_tool(['tools/compare.py', CONFIG, '--names', 'random',
                      '--seeds', '1', '--work-dir', str(out)] + options)
    return out, again


def test_compare_collects_every_run(compared):
    out, again = compared
    assert '1 runs, 1 already done' in again.stdout
    assert 'start' not in again.stdout
    rows = list(csv.DictReader((out / 'compare.csv').open()))
    data = json.loads((out / 'compare.json').read_text())
    assert [(r['seed'], r['cycle']) for r in rows] == [
        ('0', '0'), ('0', '1'), ('1', '0'), ('1', '1')]
    for seed in (0, 1):
        run_dir = out / 'random' / f'seed{seed}'
        results = json.loads((run_dir / 'results.json').read_text())
        mine = [r for r in data['rows'] if r['seed'] == seed]
        assert [r['AP50'] for r in mine] == [
            r['metrics']['pascal_voc/mAP'] for r in results]
        assert [r['num_labeled'] for r in mine] == [8, 12]
        assert [r['labeled_fraction'] for r in mine] == [8 / 32, 12 / 32]
        # the seed reached the run: model, training and initial split
        cfg_dump = (run_dir / 'random_digits_tiny.py').read_text()
        assert f'randomness = dict(seed={seed})' in cfg_dump
        assert f'X_S_size=4, seed={seed},' in cfg_dump
    X_L = [np.load(out / 'random' / f'seed{s}' / 'X_L_0.npy') for s in (0, 1)]
    assert not np.array_equal(X_L[0], X_L[1])
    assert all(r['done'] for r in data['runs'])


def test_an_earlier_calls_unfinished_run_is_not_this_calls_failure(
        tmp_path):
    # label_efficiency.py calls compare.py once for random and once for the
    # branched strategies in one work dir; a restart must not stop at the
    # random call because a branched run of the earlier call is unfinished
    earlier = dict(name='entropy', config=ENTROPY_CONFIG, seed=2,
                   work_dir=str(tmp_path / 'entropy' / 'seed2'),
                   branch=None, done=False)
    (tmp_path / 'compare.json').write_text(
        json.dumps(dict(runs=[earlier], rows=[])))
    mine = tmp_path / 'random' / 'seed0'
    mine.mkdir(parents=True)
    (mine / 'compare_run.json').write_text('{"returncode": 0}')
    proc = run_tool(['tools/compare.py', CONFIG, '--names', 'random',
                     '--seeds', '0', '--work-dir', str(tmp_path)])
    assert '1 runs, 1 already done' in proc.stdout
    assert 'not finished, from an earlier call: entropy seed 2' in \
        proc.stdout
    assert 'failed runs' not in proc.stderr
    runs = json.loads((tmp_path / 'compare.json').read_text())['runs']
    assert [(r['name'], r['seed'], r['done']) for r in runs] == [
        ('entropy', 2, False), ('random', 0, True)]


def test_plot_curves_writes_png_and_svg(compared, tmp_path):
    out, _ = compared
    run_tool(['tools/plot_curves.py', str(out / 'compare.json'), '--out',
              str(tmp_path / 'curves')])
    png = tmp_path / 'curves.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert png.stat().st_size > 10_000
    with Image.open(png) as img:
        assert img.size[0] >= 600 and img.size[1] >= 400
        # not a blank canvas: a line and a band in colour
        assert len(img.convert('RGB').getcolors(1 << 20)) > 50
    root = ET.parse(tmp_path / 'curves.svg').getroot()
    assert root.tag.endswith('svg')
    assert 'random (n=2)' in (tmp_path / 'curves.svg').read_text()
    run_tool(['tools/plot_curves.py', str(out / 'compare.json'), '--out',
              str(tmp_path / 'seed1'), '--seeds', '1'])
    assert 'random (n=1)' in (tmp_path / 'seed1.svg').read_text()


def test_plot_curves_draws_the_gain_over_a_baseline(tmp_path):
    rows = [_row(name, seed, cycle, 0.1 * (cycle + 1), ap)
            for name, offset in (('random', 0), ('a', 0.01))
            for seed in (0, 1)
            for cycle in (0, 1)
            for ap in [0.1 * seed + 0.2 * cycle + offset * cycle]]
    path = tmp_path / 'compare.json'
    path.write_text(json.dumps(dict(rows=rows)))
    run_tool(['tools/plot_curves.py', str(path), '--out',
              str(tmp_path / 'gain'), '--baseline', 'random'])
    svg = (tmp_path / 'gain.svg').read_text()
    assert 'a (n=2)' in svg and 'random (n=' not in svg
    assert 'mAP (IoU 0.5) - random, same seed' in svg
    proc = run_tool(['tools/plot_curves.py', str(path), '--out',
                     str(tmp_path / 'nope'), '--baseline', 'nope'],
                    check=False)
    assert proc.returncode != 0 and '--baseline nope' in proc.stderr
    assert not (tmp_path / 'nope.png').exists()


def test_bad_inputs_name_the_file(tmp_path):
    proc = run_tool(['tools/compare.py', 'configs/nope.py'], check=False)
    assert proc.returncode == 2 and 'configs/nope.py' in proc.stderr
    bad = tmp_path / 'compare.json'
    bad.write_text('{"rows": 3')
    proc = run_tool(['tools/plot_curves.py', str(bad)], check=False)
    assert proc.returncode != 0 and str(bad) in proc.stderr


# -- annotation cost in boxes ----------------------------------------------
def test_results_count_the_labeled_boxes(compared, digits_root):
    """results.json and compare.csv count the boxes of X_L as the VOC xml
    files of its images list them (difficult ones counted apart too)."""
    out, _ = compared
    pool = pool_annotations(digits_root)
    rows = list(csv.DictReader((out / 'compare.csv').open()))
    for seed in (0, 1):
        run_dir = out / 'random' / f'seed{seed}'
        results = json.loads((run_dir / 'results.json').read_text())
        for r in results:
            labeled = np.load(run_dir / f'X_L_{r["cycle"]}.npy')
            objects = [o for i in labeled for o in pool[i][2]]
            assert r['num_labeled_boxes'] == len(objects) > 0
            assert r['num_labeled_ignored_boxes'] == sum(
                difficult for _, difficult in objects)
            row = next(x for x in rows if x['seed'] == str(seed)
                       and x['cycle'] == str(r['cycle']))
            assert int(row['num_labeled_boxes']) == len(objects)
            assert int(row['num_labeled_ignored_boxes']) == \
                r['num_labeled_ignored_boxes']


def _plot_module():
    spec = importlib.util.spec_from_file_location(
        'plot_curves', osp.join(REPO, 'tools/plot_curves.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plot_curves_puts_boxes_on_the_x_axis(tmp_path):
    rows = [dict(_row('a', seed, cycle, 0.1 * (cycle + 1), 0.2 + cycle),
                 num_labeled_boxes=10 * (cycle + 1) + seed)
            for seed in (0, 1) for cycle in (0, 1)]
    points = curves(rows)['a']
    assert [p.labeled_boxes for p in points] == [10.5, 20.5]
    fig = _plot_module().plot(rows, 'AP50', x_axis='boxes')
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [10.5, 20.5]
    assert list(line.get_ydata()) == pytest.approx([0.2, 1.2])
    assert fig.axes[0].get_xlabel().startswith('labeled boxes')

    path = tmp_path / 'compare.json'
    path.write_text(json.dumps(dict(rows=rows)))
    run_tool(['tools/plot_curves.py', str(path), '--out',
              str(tmp_path / 'boxes'), '--x', 'boxes'])
    assert 'labeled boxes' in (tmp_path / 'boxes.svg').read_text()
    proc = run_tool(['tools/plot_curves.py', str(path), '--out',
                     str(tmp_path / 'nope'), '--x', 'nope'], check=False)
    assert proc.returncode != 0 and "--x: invalid choice: 'nope'" in \
        proc.stderr
    # rows of a results.json from before boxes were counted
    old = dict(rows[0], strategy='old', num_labeled_boxes=None)
    path.write_text(json.dumps(dict(rows=[old] + rows)))
    proc = run_tool(['tools/plot_curves.py', str(path), '--out',
                     str(tmp_path / 'nope'), '--x', 'boxes'], check=False)
    assert proc.returncode != 0
    assert '--x boxes: the rows of old have no num_labeled_boxes' in \
        proc.stderr
    assert not (tmp_path / 'nope.png').exists()


# -- branched comparison ----------------------------------------------------
def _weights(path):
    return torch.load(path, map_location='cpu',
                      weights_only=True)['state_dict']


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope='module')
def branched(compared, tmp_path_factory, digits_root):
    """Random and entropy, seed 1, both from random seed 1's cycle-0
    model."""
    source, _ = compared
    out = tmp_path_factory.mktemp('branched')
    proc = run_tool(
        ['tools/compare.py', CONFIG, ENTROPY_CONFIG, '--names', 'random',
         'entropy', '--seeds', '1', '--branch-from', str(source / 'random'),
         '--branch-cycle', '0', '--baseline', 'random', '--work-dir',
         str(out), '--cfg-options', 'train_cfg.cycles=[0,1]'] +
        _data_root_options(digits_root))
    return source / 'random' / 'seed1', out, proc


def test_branched_runs_select_from_the_same_model(branched):
    source, out, proc = branched
    trained = _weights(source / 'trained_cycle_0.pth')
    # the trained checkpoint holds the model that selected in the source
    _assert_same_weights(trained, _weights(source / 'cycle_0.pth'))
    source_results = json.loads((source / 'results.json').read_text())
    selections = {}
    for name in ('random', 'entropy'):
        run_dir = out / name / 'seed1'
        assert (run_dir / 'X_L_0.npy').read_bytes() == \
            (source / 'X_L_0.npy').read_bytes()
        # cycle 0 was not trained again: the branch selected with the
        # source's model (its cycle_0.pth is written after the selection)
        _assert_same_weights(trained, _weights(run_dir / 'cycle_0.pth'))
        log = (run_dir / 'compare_stdout.log').read_text()
        assert f'Load checkpoint from {source / "trained_cycle_0.pth"}' in log
        assert not re.search(r'\[cycle 0 \| label\] Epoch\(train\)', log)
        assert re.search(r'\[cycle 1 \| label\] Epoch\(train\)', log)
        results = json.loads((run_dir / 'results.json').read_text())
        assert results[0] == source_results[0]
        assert [r['cycle'] for r in results] == [0, 1]
        selections[name] = json.loads(
            (run_dir / 'selection_1.json').read_text())
        assert results[1]['strategy'] == selections[name]['strategy']
    assert selections['random']['strategy'] == 'RandomStrategy'
    assert selections['entropy']['strategy'] == 'EntropyStrategy'
    assert selections['entropy']['scores'] is not None
    assert sorted(selections['entropy']['indices']) != \
        sorted(selections['random']['indices'])
    # random from random's model with random's seed: the source's own
    # experiment, selection and cycle 1 included
    source_selection = json.loads((source / 'selection_1.json').read_text())
    assert selections['random']['indices'] == source_selection['indices']
    assert json.loads((out / 'random' / 'seed1' / 'results.json')
                      .read_text()) == source_results
    data = json.loads((out / 'compare.json').read_text())
    assert [r['branch'] for r in data['runs']] == \
        [[str(source), 0]] * 2
    assert 'AP50 - random, same seed, by labeled fraction' in proc.stdout


def test_branch_errors_name_what_is_missing(branched, tmp_path,
                                            digits_root):
    source, _, _ = branched
    args = ['tools/compare.py', CONFIG, '--work-dir', str(tmp_path),
            '--branch-from', str(source.parent)]
    proc = run_tool(args + ['--seeds', '1', '--branch-cycle', '5'],
                    check=False)
    assert proc.returncode != 0
    assert f'{source / "trained_cycle_5.pth"}: no such file' in proc.stderr
    assert 'trained model of cycles [0, 1]' in proc.stderr
    # seed 2 has no run there: the folder itself is taken, a run of seed 0
    proc = run_tool(args + ['--seeds', '2', '--branch-cycle', '0'],
                    check=False)
    assert proc.returncode != 0
    assert 'trained_cycle_0.pth: no such file' in proc.stderr
    proc = run_tool(['tools/compare.py', CONFIG, '--work-dir',
                     str(tmp_path), '--branch-from', str(source / 'seed0'),
                     '--seeds', '0', '--branch-cycle', '0'], check=False)
    assert proc.returncode == 2 and 'seed0: no such directory' in proc.stderr
    proc = run_tool(['tools/compare.py', CONFIG, '--work-dir',
                     str(tmp_path), '--branch-from', str(source),
                     '--seeds', '0', '--branch-cycle', '0'], check=False)
    assert proc.returncode != 0
    assert 'written by a run of seed 1, not 0' in proc.stderr
    assert not list(tmp_path.glob('*/seed*/compare_stdout.log'))
