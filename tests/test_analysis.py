"""tools/analysis/ on the files of a real tiny 2-cycle experiment.

One experiment (``configs/entropy_digits.py``, 32-image pool, 8 labeled
then 4 selected) runs once through ``tools/train.py``; every tool then
runs on its work_dir (or a broken copy) as a user would, and what it
prints or writes is checked against numbers computed here from the VOC
annotation files and the experiment's own files.
"""
import csv
import importlib.util
import json
import os
import shutil
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest

from .conftest import REPO, run_tool
from .test_resume import _data_root_options
from .test_strategy_configs import run_tiny

CONFIG = 'configs/entropy_digits.py'
CLASSES = [str(digit) for digit in range(10)]
#: a results.json from before ``num_pseudo_labeled`` was recorded
OLD_RESULTS = [
    dict(cycle=0, num_labeled=50, num_pool=150, strategy='MIAOD',
         metrics={'pascal_voc/mAP': 0.25, 'pascal_voc/AP50': 0.25}),
    dict(cycle=1, num_labeled=60, num_pool=140, strategy='MIAOD',
         metrics={})
]


@pytest.fixture(scope='module')
def experiment(tmp_path_factory, digits_root):
    work_dir = tmp_path_factory.mktemp('analysis') / 'entropy'
    # one epoch a cycle: the files, not the model, are under test
    run_tiny(CONFIG, work_dir, digits_root, 'train_cfg.epochs=1',
             'train_cfg.lr_decay_epochs=[]')
    return work_dir


def _copy(experiment, folder):
    """A copy of the experiment's work_dir to break, less checkpoints."""
    shutil.copytree(experiment, folder,
                    ignore=shutil.ignore_patterns('*.pth'))
    return folder


@pytest.fixture(scope='module')
def runs(experiment, digits_root, tmp_path_factory):
    """Every tool run of this module, made two at a time (each is mostly
    python start-up; the machine has 2 cores). Returns the paths and one
    CompletedProcess per run, by name."""
    tmp = tmp_path_factory.mktemp('analysis_runs')
    paths = SimpleNamespace(
        split_json=tmp / 'split.json',
        diff_json=tmp / 'diff.json',
        csv=tmp / 'results.csv',
        older=tmp / 'older',
        bad_npy=_copy(experiment, tmp / 'bad_npy'),
        shrunk=_copy(experiment, tmp / 'shrunk'),
        bad_results=tmp / 'bad_results')
    # broken inputs: an unreadable X_L_1.npy; X_L_0 with an index that is
    # not in X_L_1; a truncated results.json
    (paths.bad_npy / 'X_L_1.npy').write_bytes(b'not a numpy file')
    X_L_1 = np.load(experiment / 'X_L_1.npy')
    paths.outside = sorted(set(range(32)) - set(X_L_1.tolist()))[0]
    np.save(paths.shrunk / 'X_L_0.npy',
            np.sort(np.append(np.load(experiment / 'X_L_0.npy'),
                              paths.outside)))
    paths.older.mkdir()
    (paths.older / 'results.json').write_text(json.dumps(OLD_RESULTS))
    paths.bad_results.mkdir()
    (paths.bad_results / 'results.json').write_text(
        '[{"cycle": 0, "num_labeled": ')

    commands = dict(
        print_split=[
            'tools/analysis/print_split.py', CONFIG,
            str(experiment), '--json',
            str(paths.split_json), '--cfg-options'
        ] + _data_root_options(digits_root),
        # the config dump carries the experiment's data root
        print_split_bad=[
            'tools/analysis/print_split.py',
            str(paths.bad_npy / 'entropy_digits.py'),
            str(paths.bad_npy)
        ],
        diff=[
            'tools/analysis/diff_cycles.py',
            str(experiment), '0', '1', '--json',
            str(paths.diff_json)
        ],
        diff_bad=['tools/analysis/diff_cycles.py',
                  str(paths.shrunk), '0', '1'],
        load_results=[
            'tools/analysis/load_results.py',
            str(experiment),
            str(paths.older), '--metric', 'pascal_voc/mAP', '--csv',
            str(paths.csv)
        ],
        load_results_bad=[
            'tools/analysis/load_results.py',
            str(experiment),
            str(paths.bad_results)
        ])
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = pool.map(lambda args: run_tool(args, check=False),
                         commands.values())
        return paths, dict(zip(commands, procs))


def succeeded(proc):
    """The run's stdout; fails the test with its output if it failed."""
    assert proc.returncode == 0, (
        f'{" ".join(map(str, proc.args))} exited {proc.returncode}\n'
        f'--- stdout ---\n{proc.stdout[-6000:]}\n'
        f'--- stderr ---\n{proc.stderr[-6000:]}')
    return proc.stdout


def failed(proc):
    """The run's stderr; it must have failed cleanly (no traceback)."""
    assert proc.returncode != 0, proc.stdout
    assert 'Traceback' not in proc.stderr, proc.stderr
    return proc.stderr


def pool_annotations(digits_root):
    """Per global index: (tag, image id, [(class name, difficult)]), read
    from the trainval lists and xml files (2007 first, as the config)."""
    pool = []
    for year in ('2007', '2012'):
        folder = digits_root / 'VOCdevkit' / f'DIGITS{year}'
        ids = (folder / 'ImageSets/Main/trainval.txt').read_text().split()
        for img_id in ids:
            root = ET.parse(folder / 'Annotations' / f'{img_id}.xml')
            boxes = [(obj.find('name').text,
                      int(obj.find('difficult').text))
                     for obj in root.iter('object')]
            pool.append((year[2:], img_id, boxes))
    return pool


def expected_counts(pool, indices):
    """{class: [images, boxes, ignored]} over the given indices."""
    counts = {name: [0, 0, 0] for name in CLASSES}
    for index in indices:
        names = set()
        for name, difficult in pool[index][2]:
            counts[name][2 if difficult else 1] += 1
            if not difficult:
                names.add(name)
        for name in names:
            counts[name][0] += 1
    return counts


def table_rows(text):
    """Cells of the ascii-table rows of ``text`` (header included)."""
    return [[cell.strip() for cell in line.strip('|').split('|')]
            for line in text.splitlines() if line.startswith('|')]


def test_print_split_counts_match_the_annotation_files(
        experiment, digits_root, runs):
    paths, procs = runs
    stdout = succeeded(procs['print_split'])
    X_L = np.load(experiment / 'X_L_1.npy')
    pool = pool_annotations(digits_root)
    assert len(pool) == 32 and len(X_L) == 12
    labeled = expected_counts(pool, X_L)
    rest = expected_counts(pool, sorted(set(range(32)) - set(X_L)))

    split = json.loads(paths.split_json.read_text())
    assert split['cycle'] == 1 and split['total_size'] == 32
    assert [row['class'] for row in split['classes']] == CLASSES
    for row in split['classes']:
        name = row['class']
        assert [row['labeled_images'], row['labeled_boxes'],
                row['labeled_ignored']] == labeled[name], name
        assert [row['pool_images'], row['pool_boxes'],
                row['pool_ignored']] == rest[name], name
    total = split['total']
    assert total['labeled_images'] == 12 and total['pool_images'] == 20
    assert total['labeled_boxes'] == sum(c[1] for c in labeled.values())
    assert total['pool_boxes'] == sum(c[1] for c in rest.values())
    assert total['labeled_image_fraction'] == 12 / 32

    # the printed table says the same
    rows = table_rows(stdout)
    assert rows[0][:5] == ['class', 'X_L images', 'X_L boxes',
                           'pool images', 'pool boxes']
    printed = {row[0]: [int(cell) for cell in row[1:5]] for row in rows[1:]}
    for name in CLASSES:
        assert printed[name] == [labeled[name][0], labeled[name][1],
                                 rest[name][0], rest[name][1]], name
    assert printed['total'][0] + printed['total'][2] == 32
    assert rows[-1][5] == '37.5%'
    assert 'cycle 1: 12 of 32 images labeled' in stdout


def test_print_split_refuses_a_malformed_index_file(runs):
    paths, procs = runs
    stderr = failed(procs['print_split_bad'])
    assert f'{paths.bad_npy}/X_L_1.npy: not a readable .npy file' in stderr


def test_diff_cycles_lists_what_entered_X_L(experiment, digits_root, runs):
    paths, procs = runs
    stdout = succeeded(procs['diff'])
    X_L = [np.load(experiment / f'X_L_{c}.npy') for c in (0, 1)]
    X_U = [np.load(experiment / f'X_U_{c}.npy') for c in (0, 1)]
    new = sorted(set(X_L[1].tolist()) - set(X_L[0].tolist()))
    assert len(new) == 4
    selection = json.loads((experiment / 'selection_1.json').read_text())
    pool = pool_annotations(digits_root)

    diff = json.loads(paths.diff_json.read_text())
    assert [r['index'] for r in diff['entered_X_L']] == new
    assert [(r['tag'], r['img_id']) for r in diff['entered_X_L']] == [
        pool[i][:2] for i in new
    ]
    assert diff['X_L_sizes'] == [8, 12] and diff['total_size'] == 32
    assert diff['left_X_U'] == sorted(set(X_U[0].tolist()) -
                                      set(X_U[1].tolist()))
    assert diff['entered_X_U'] == sorted(set(X_U[1].tolist()) -
                                         set(X_U[0].tolist()))
    [record] = diff['selections']
    assert record['strategy'] == 'EntropyStrategy'
    assert record['num_selected'] == 4 and record['budget'] == 4
    assert record['score_min'] == min(selection['scores'])
    assert record['score_max'] == max(selection['scores'])

    # printed: the selection row, then one row per entered image
    rows = table_rows(stdout)
    assert rows[1][:4] == ['1', 'EntropyStrategy', '4', '4']
    entered = rows[rows.index(['index', 'tag', 'img_id', 'cycle',
                               'score']) + 1:]
    assert [int(row[0]) for row in entered] == new
    assert [row[2] for row in entered] == [pool[i][1] for i in new]
    assert 'X_L_0 -> X_L_1: 8 -> 12 labeled (+4) of 32' in stdout


def test_diff_cycles_refuses_X_L_that_shrinks(runs):
    paths, procs = runs
    stderr = failed(procs['diff_bad'])
    assert (f'{paths.shrunk}/X_L_0.npy is not a subset of '
            f'{paths.shrunk}/X_L_1.npy' in stderr)
    assert f'first: [{paths.outside}]' in stderr


def test_load_results_tables_and_csv(experiment, runs):
    paths, procs = runs
    stdout = succeeded(procs['load_results'])
    results = json.loads((experiment / 'results.json').read_text())
    assert [r['cycle'] for r in results] == [0, 1]

    with open(paths.csv, newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    expected = [(str(experiment), r) for r in results] + [
        (str(paths.older), dict(r, num_pseudo_labeled=0))
        for r in OLD_RESULTS
    ]
    for row, (work_dir, result) in zip(rows, expected):
        assert row['work_dir'] == work_dir
        for key in ('cycle', 'num_labeled', 'num_pool',
                    'num_pseudo_labeled'):
            assert int(row[key]) == result[key], key
        for key in ('num_labeled_boxes', 'num_pseudo_boxes',
                    'num_human_boxes'):  # empty for the older file
            assert row[key] == str(result.get(key, '')), key
        assert row['strategy'] == result['strategy']
        assert float(row['labeled_fraction']) == pytest.approx(
            result['num_labeled'] /
            (result['num_labeled'] + result['num_pool']))
        metric = result['metrics'].get('pascal_voc/mAP')
        assert row['pascal_voc/mAP'] == ('' if metric is None else
                                         str(metric))

    printed = table_rows(stdout)
    # labeled boxes where the records count them (not in the older file)
    assert printed.count(['cycle', 'labeled', 'labeled %', 'boxes',
                          'pascal_voc/mAP']) == 1
    assert printed.count(['cycle', 'labeled', 'labeled %',
                          'pascal_voc/mAP']) == 1
    assert ['0', '50', '25.0%', '0.2500'] in printed
    assert ['1', '60', '30.0%', '-'] in printed
    assert ['1', '12', '37.5%', str(results[1]['num_labeled_boxes']),
            f'{results[1]["metrics"]["pascal_voc/mAP"]:.4f}'] in printed
    assert f'{paths.older} (MIAOD)' in stdout


def test_load_results_names_a_malformed_file(runs):
    paths, procs = runs
    stderr = failed(procs['load_results_bad'])
    assert f'{paths.bad_results}/results.json: malformed JSON' in stderr


@pytest.mark.parametrize('content, message', [
    (None, 'results.json: no such file'),
    ('{"cycle": 0}', 'expected a list of per-cycle records, got dict'),
    ('[{"cycle": 0, "num_labeled": 8, "num_pool": 24}]',
     'record 0: "metrics" must be an object'),
    ('[{"cycle": 0, "num_labeled": "8", "num_pool": 24, "metrics": {}}]',
     'record 0: "num_labeled" must be an int >= 0'),
    ('[{"cycle": 1, "num_labeled": 8, "num_pool": 24, "metrics": {}},'
     ' {"cycle": 1, "num_labeled": 9, "num_pool": 23, "metrics": {}}]',
     'record 1: cycle 1 after cycle 1'),
])
def test_load_results_library_errors_name_the_file(tmp_path, content,
                                                   message):
    from al_plugin.evaluation.analysis import load_results
    if content is not None:
        (tmp_path / 'results.json').write_text(content)
    with pytest.raises((FileNotFoundError, ValueError)) as info:
        load_results(str(tmp_path))
    assert str(tmp_path / 'results.json') in str(info.value)
    assert message in str(info.value)


def test_load_results_shows_pseudo_boxes_and_the_sl_al_ratio(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'load_results', os.path.join(REPO, 'tools/analysis/load_results.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    counts = dict(num_labeled_boxes=20, num_pseudo_labeled=0,
                  num_pseudo_boxes=0, num_human_boxes=20, sl_al_ratio=0.0)
    (tmp_path / 'results.json').write_text(json.dumps([
        dict(cycle=0, num_labeled=8, num_pool=24, strategy=None,
             metrics={'pascal_voc/mAP': 0.1}, **counts),
        dict(cycle=1, num_labeled=12, num_pool=20, strategy='Entropy',
             metrics={'pascal_voc/mAP': 0.2}, **dict(
                 counts, num_labeled_boxes=31, num_pseudo_labeled=5,
                 num_pseudo_boxes=14, num_human_boxes=28, sl_al_ratio=0.5))
    ]))
    assert tool.main([str(tmp_path), '--csv', str(tmp_path / 'r.csv')]) == 0
    printed = table_rows(capsys.readouterr().out)
    assert printed[0] == ['cycle', 'labeled', 'labeled %', 'boxes',
                          'pseudo boxes', 'SL/AL', 'pascal_voc/mAP']
    assert printed[1:] == [['0', '8', '25.0%', '20', '0', '0.00', '0.1000'],
                           ['1', '12', '37.5%', '31', '14', '0.50', '0.2000']]
    with open(tmp_path / 'r.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [(r['num_pseudo_boxes'], r['num_human_boxes'], r['sl_al_ratio'])
            for r in rows] == [('0', '20', '0.0'), ('14', '28', '0.5')]
