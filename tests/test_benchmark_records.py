"""benchmarks/run_records.py keeps the finished runs' records of a long
benchmark in the repository and restores them on an empty machine;
label_efficiency.py trains a restored branch source again, checks that it
reproduces the record, and branches from it."""
import json
import os
import shutil

import numpy as np
import pytest

from benchmarks import label_efficiency as le
from benchmarks import run_records, selection_content


def _run(folder, returncode=0, cycles=(0, 1)):
    folder.mkdir(parents=True)
    (folder / run_records.DONE_FILE).write_text(
        json.dumps(dict(returncode=returncode)))
    (folder / 'results.json').write_text('[]')
    for c in cycles:
        np.save(folder / f'X_L_{c}.npy', np.arange(c + 2))
    (folder / 'trained_cycle_0.pth').write_bytes(b'weights')
    (folder / 'compare_stdout.log').write_text('log')
    (folder / 'cycle1').mkdir()
    (folder / 'cycle1' / 'trainval_X_L_07.txt').write_text('a')


def test_keep_copies_the_finished_runs_records_and_restore_brings_them_back(
        tmp_path):
    work, records = tmp_path / 'work', tmp_path / 'records'
    _run(work / 'random' / 'seed0')
    _run(work / 'random' / 'seed1', returncode=1)  # failed: nothing kept
    _run(work / 'entropy' / 'seed0')
    os.remove(work / 'entropy' / 'seed0' / run_records.DONE_FILE)  # running
    (work / 'compare.json').write_text('{"rows": []}')
    (work / 'validate' / 'random').mkdir(parents=True)
    (work / 'validate' / 'random' / 'validation.json').write_text('{}')
    (work / 'validate' / 'random' / 'random').mkdir()
    (work / 'validate' / 'random' / 'random' / 'model.pth').write_text('w')

    kept = run_records.keep(str(work), str(records))
    assert sorted(kept) == [
        'compare.json', 'random/seed0/X_L_0.npy', 'random/seed0/X_L_1.npy',
        f'random/seed0/{run_records.DONE_FILE}', 'random/seed0/results.json',
        'validate/random/validation.json'
    ]
    assert run_records.keep(str(work), str(records)) == []  # up to date
    (work / 'compare.json').write_text('{"rows": [1]}')
    assert run_records.keep(str(work), str(records)) == ['compare.json']

    # an empty machine: the records come back, checkpoints do not
    shutil.rmtree(work)
    restored = run_records.restore(str(records), str(work))
    assert sorted(restored) == sorted(kept)
    assert run_records.finished(str(work / 'random' / 'seed0'))
    assert not (work / 'random' / 'seed0' / 'trained_cycle_0.pth').exists()
    # what the work dir holds stays as it is
    (work / 'compare.json').write_text('newer')
    assert run_records.restore(str(records), str(work)) == []
    assert (work / 'compare.json').read_text() == 'newer'
    assert run_records.restore(str(tmp_path / 'none'), str(work)) == []


def test_records_of_another_testbed_are_refused(tmp_path, digits_root):
    records = tmp_path / 'records'
    data = tmp_path / 'data'
    shutil.copytree(digits_root, data)
    args = le.parse_args(['--data-root', f'{data}/VOCdevkit/'])
    bed = le.testbed(args)
    assert set(bed) == {'pretrained', 'annotations'} and all(bed.values())
    run_records.check_testbed(str(records), bed)  # the first call: taken
    assert json.loads((records / run_records.TESTBED_FILE).read_text()) \
        == bed
    run_records.check_testbed(str(records), le.testbed(args))  # the same
    xml = sorted(data.glob('VOCdevkit/*/Annotations/*.xml'))[0]
    xml.write_text(xml.read_text().replace('<difficult>0',
                                           '<difficult>1', 1))
    changed = le.testbed(args)
    assert changed['pretrained'] == bed['pretrained']
    with pytest.raises(SystemExit, match=r'testbed\.json: the records were '
                       r'measured on another testbed \(annotations differ'):
        run_records.check_testbed(str(records), changed)


TINY = [
    'train_cfg.splitter.X_L_0_size=8', 'train_cfg.splitter.X_S_size=4',
    'train_cfg.X_L_0_repeat=1', 'train_cfg.epochs=1',
    'train_cfg.lr_decay_epochs=[]', 'train_dataloader.batch_size=4',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.batch_sampler=None', 'val_dataloader.batch_size=4',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'test_dataloader.batch_size=4', 'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'default_hooks.visualization.draw=False'
]


def test_a_restored_source_is_trained_again_and_checked(tmp_path,
                                                        digits_root):
    work, records = tmp_path / 'work', tmp_path / 'records'
    args = le.parse_args([
        '--data-root', f'{digits_root}/VOCdevkit/', '--seeds', '0',
        '--cycles', '0', '1', '--branch-cycle', '0', '--work-dir',
        str(work), '--records', str(records), '--out', str(tmp_path),
        '--threads', '1', '--extra', *TINY
    ])
    steps = le.plan_steps(args)
    source, branched = steps[0], steps[1]
    assert list(source.configs) == ['random'] and branched.branch == (
        str(work / 'random'), 0)
    le.run_steps([source], args)
    run = work / 'random' / 'seed0'
    assert (run / 'trained_cycle_0.pth').is_file()
    assert (records / 'random' / 'seed0' / 'results.json').is_file()
    assert not list(records.rglob('*.pth'))

    lists = {p.relative_to(run): p.read_text()
             for p in run.glob('cycle*/trainval_X_L_*.txt')}
    assert len(lists) == 2 * 2  # cycles 0 and 1, subsets 07 and 12
    shutil.rmtree(work)  # the machine comes back empty
    run_records.restore(str(records), str(work))
    assert not (run / 'trained_cycle_0.pth').exists()
    # validate_splits.py checks X_L against these lists: the records keep
    # none, they are written again from the pool, equal to the run's own
    assert not list(run.glob('cycle*/*.txt'))
    assert len(le.write_id_lists(args)) == 4
    assert {p.relative_to(run): p.read_text()
            for p in run.glob('cycle*/trainval_X_L_*.txt')} == lists
    assert le.write_id_lists(args) == []  # written once
    # what the picks hold is read from the records alone; strategies
    # without a finished run are left out
    selection_content.main(['--work-dir', str(work), '--seeds', '0',
                            '--data-root', f'{digits_root}/VOCdevkit/',
                            '--out', str(tmp_path / 'content.json')])
    content = json.loads((tmp_path / 'content.json').read_text())
    assert list(content['strategies']) == ['random']
    assert list(content['strategies']['random']['per_seed']) == ['0']
    assert content['strategies']['random']['mean']['images'] == 4
    le.ensure_sources(branched, steps, args)
    again = tmp_path / 'work_regenerated' / 'cycle0' / 'random' / 'seed0'
    assert (again / 'trained_cycle_0.pth').is_file()
    assert not (again / 'X_L_1.npy').exists()  # trained up to cycle 0
    for name in ('trained_cycle_0.pth', 'al_initial_weights.pth'):
        assert (run / name).read_bytes() == (again / name).read_bytes()

    # a record the regenerated run does not reproduce is refused
    for name in ('trained_cycle_0.pth', 'al_initial_weights.pth'):
        os.remove(run / name)
    results = json.loads((run / 'results.json').read_text())
    results[0]['metrics'] = {
        k: (v + 0.5 if isinstance(v, float) else v)
        for k, v in results[0]['metrics'].items()}
    (run / 'results.json').write_text(json.dumps(results))
    with pytest.raises(SystemExit, match='does not reproduce'):
        le.ensure_sources(branched, steps, args)
    assert not (run / 'trained_cycle_0.pth').exists()


def test_records_are_kept_while_a_step_runs(tmp_path):
    """A run that ends while the other runs of its step go on is kept
    within the interval, not when the step ends."""
    import subprocess
    import sys
    work, records = tmp_path / 'work', tmp_path / 'records'
    args = le.parse_args(['--work-dir', str(work), '--records',
                          str(records)])
    flag = tmp_path / 'kept'
    # the step: a run finishes at once; the step ends once it is kept
    _run(work / 'random' / 'seed0')
    process = subprocess.Popen([
        sys.executable, '-c',
        'import os, sys, time\n'
        'start = time.time()\n'
        f'while not os.path.exists({str(records / "compare.json")!r}):\n'
        '    time.sleep(0.05)\n'
        '    if time.time() - start > 30:\n'
        '        sys.exit(4)  # never kept\n'
        f'open({str(flag)!r}, "w").close()\n'
        'sys.exit(3)'
    ])
    (work / 'compare.json').write_text('{}')
    assert le.wait_keeping(process, args, interval=0.2) == 3
    assert flag.exists()
    assert (records / 'random' / 'seed0' / 'results.json').is_file()


def test_the_weights_digest_reads_tensors_not_the_file(tmp_path):
    """Two builds of the same weights differ in their ``meta`` (build time,
    paths): one digest; a changed tensor: another."""
    import torch
    state = {'conv.weight': torch.arange(6.).reshape(2, 3),
             'bn.num_batches_tracked': torch.tensor(3)}
    paths = [str(tmp_path / f'{i}.pth') for i in range(3)]
    torch.save(dict(state_dict=state, meta=dict(seconds=1.5)), paths[0])
    torch.save(dict(state_dict=dict(reversed(state.items())),
                    meta=dict(seconds=2.5, cache='/elsewhere')), paths[1])
    changed = dict(state, **{'conv.weight': state['conv.weight'] + 1e-6})
    torch.save(dict(state_dict=changed, meta=dict(seconds=1.5)), paths[2])
    first, again, other = map(run_records.weights_digest, paths)
    assert first == again != other
    assert run_records.digest(paths[:1]) != run_records.digest(paths[1:2])
