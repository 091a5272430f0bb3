"""The selection service (``tools/serve.py``), started for real on
127.0.0.1 and driven over HTTP: a whole loop on the built-in set (select,
label the picks from the ground truth, train, select again), the
selection equal to the pipeline's on the same checkpoint, progress,
queueing, the path checks, bad fields, a corrupt image, and a service
killed mid-job."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from al_plugin.engine.export import load_detector
from al_plugin.engine.image_query import Images, query_images
from .conftest import REPO
from .test_export import ONE_CYCLE
from .test_resume import _data_root_options

BUDGET = 4
SEED = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Service:
    """``tools/serve.py`` in a child process, and a client for it."""

    def __init__(self, work_dir, data_root, config_dir, *extra):
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.log = open(work_dir / f'serve_{self.port}.log', 'w')
        env = dict(os.environ, PYTHONPATH=REPO)
        self.process = subprocess.Popen(
            [sys.executable, 'tools/serve.py', '--work-dir', str(work_dir),
             '--data-root', str(data_root), '--config-dir', str(config_dir),
             '--port', str(self.port), *extra],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, timeout=30)
        deadline = time.time() + 120
        while True:
            assert self.process.poll() is None, self.output()
            try:
                if self.client.get('/health').status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline, self.output()
            time.sleep(0.3)

    def output(self) -> str:
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()[-4000:]

    def wait(self, job_id, timeout=600, seen=None) -> dict:
        """Poll a job until it ends; ``seen`` collects its progress."""
        deadline = time.time() + timeout
        while True:
            job = self.client.get(f'/jobs/{job_id}').json()
            if seen is not None and job['progress']:
                seen.append((job['state'], job['progress']))
            if job['state'] in ('done', 'failed'):
                return job
            assert time.time() < deadline, (job, self.output())
            time.sleep(0.2)

    def stop(self, sig=signal.SIGTERM):
        self.process.send_signal(sig)
        self.process.wait(30)
        self.client.close()
        self.log.close()


def service_tree(base, digits_root):
    """Under ``base``: ``work/run``, a one-cycle entropy run (its
    ``cycle_0.pth`` and dumped config), and ``data/``: the 32 trainval
    images in ``pool/`` (named ``<year>_<file>``) plus a corrupt
    ``zz_broken.jpg``, and their ground truth ``gt.json`` (renamed so).
    Returns ``dict(work, data, run, gt)``."""
    work, data = base / 'work', base / 'data'
    run_dir = work / 'run'
    subprocess.run([
        sys.executable, 'tools/train.py', 'configs/entropy_digits.py',
        '--work-dir', str(run_dir), '--cfg-options'
    ] + ONE_CYCLE + _data_root_options(digits_root), cwd=REPO, check=True,
        capture_output=True)
    gt = json.loads(
        (digits_root / 'annotations' / 'instances_trainval.json').read_text())
    (data / 'pool').mkdir(parents=True)
    for image in gt['images']:  # the years share file names: prefix them
        year = image['file_name'].split('/')[1]
        name = f'{year}_{image["file_name"].rsplit("/", 1)[-1]}'
        shutil.copy(digits_root / image['file_name'], data / 'pool' / name)
        image['file_name'] = name
    (data / 'pool' / 'zz_broken.jpg').write_bytes(b'not a jpeg at all')
    (data / 'gt.json').write_text(json.dumps(gt))
    return dict(work=work, data=data, run=run_dir, gt=gt)


@pytest.fixture(scope='module')
def setup(tmp_path_factory, digits_root):
    """:func:`service_tree` and a running service over it."""
    state = service_tree(tmp_path_factory.mktemp('service'), digits_root)
    state['service'] = Service(state['work'], state['data'], state['run'])
    yield state
    # the service running now: a test may have restarted it
    if state['service'].process.poll() is None:
        state['service'].stop()


def select_body(**kwargs):
    body = dict(images='pool', config='entropy_digits.py',
                checkpoint='run/cycle_0.pth', budget=BUDGET, seed=SEED)
    body.update(kwargs)
    return body


def labels_of(gt: dict, names) -> dict:
    """The ground truth of the images ``names`` (COCO)."""
    images = [i for i in gt['images'] if i['file_name'] in set(names)]
    ids = {i['id'] for i in images}
    return dict(images=images, categories=gt['categories'],
                annotations=[a for a in gt['annotations']
                             if a['image_id'] in ids])


def test_health_and_strategies(setup):
    client = setup['service'].client
    assert client.get('/health').json()['status'] == 'ok'
    table = {s['name']: s for s in client.get('/strategies').json()}
    assert 'EntropyStrategy' in table and 'CoreSetStrategy' in table
    assert 'reduction' in table['EntropyStrategy']['defaults']
    assert 'features' in table['CoreSetStrategy']['requires']


def test_selection_is_the_pipelines(setup):
    """The job picks what ``query_images`` picks on the same checkpoint,
    reports progress, answers /health while it runs, and skips the corrupt
    image."""
    service = setup['service']
    answer = service.client.post('/select', json=select_body())
    assert answer.status_code == 202, answer.text
    job_id = answer.json()['id']
    seen, health = [], []
    deadline = time.time() + 600
    while True:
        job = service.client.get(f'/jobs/{job_id}').json()
        if job['progress']:
            seen.append(job['progress'])
        if job['state'] == 'running':
            health.append(service.client.get('/health').json())
        if job['state'] in ('done', 'failed'):
            break
        assert time.time() < deadline
        time.sleep(0.1)
    assert job['state'] == 'done', (job, service.output())
    assert any(h['running'] == job_id for h in health)
    dones = [p['done'] for p in seen if p['stage'] == 'scoring'
             and p['total'] == 33]
    assert dones == sorted(dones)
    # the passes that ended stay in progress.json, however seldom one polls:
    # scoring 33 images (the corrupt one included), the detections of the
    # picks for the export, the pool map's 32 readable images
    passes = job['progress']['passes']
    assert [(p['stage'], p['done'], p['total']) for p in passes] == [
        ('scoring', 33, 33), ('predicting', BUDGET, BUDGET),
        ('pool map', 32, 32)], passes
    assert passes[0]['rate'] > 0

    result = job['result']
    assert result['strategy'] == 'EntropyStrategy'
    assert result['skipped'][0]['image'] == 'pool/zz_broken.jpg'
    assert len(result['selected']) == BUDGET and result['num_pool'] == 33
    picked = [s['image'] for s in result['selected']]
    assert 'pool/zz_broken.jpg' not in picked
    assert [s['rank'] for s in result['selected']] == [1, 2, 3, 4]

    cfg = Config.fromfile(str(setup['run'] / 'entropy_digits.py'))
    init_default_scope('mmdet')
    checkpoint = str(setup['run'] / 'cycle_0.pth')
    direct = query_images(cfg, load_detector(cfg, checkpoint), checkpoint,
                          Images(str(setup['data'] / 'pool')), BUDGET,
                          seed=SEED)
    data = str(setup['data'])
    assert picked == [os.path.relpath(p, data) for p in direct.selected]
    np.testing.assert_allclose(
        [s['score'] for s in result['selected']],
        [direct.table[p]['score'] for p in direct.selected], rtol=1e-6)
    # the export is served and lists the picks in order
    coco = service.client.get('/files/' + result['exports']['coco']).json()
    assert [i['file_name'] for i in coco['images']] == [
        p.split('/', 1)[1] for p in picked]


def test_a_second_job_queues(setup):
    client = setup['service'].client
    first = client.post('/select', json=select_body()).json()
    second = client.post('/select', json=select_body(budget=2)).json()
    assert second['state'] == 'queued' and second['ahead'] >= 1
    assert client.get('/health').json()['queued'] >= 1 or \
        client.get(f'/jobs/{second["id"]}').json()['state'] != 'queued'
    for job in (first, second):
        assert setup['service'].wait(job['id'])['state'] == 'done'


@pytest.mark.parametrize('field,value', [
    ('images', '../work'),
    ('images', '%2e%2e/work'),
    ('images', '%252e%252e%252fwork'),
    ('images', '/etc'),
    ('images', 'escape'),  # a symbolic link out of the data root
    ('images', ['pool/../../work/run/cycle_0.pth']),
    ('labeled', '../gt.json'),
    ('config', '../../data/gt.json'),
    ('config', '/etc/passwd'),
    ('checkpoint', '../../etc/passwd'),
])
def test_paths_out_of_the_folders_get_403(setup, field, value):
    link = setup['data'] / 'escape'
    if not link.exists():
        link.symlink_to(setup['work'])
    answer = setup['service'].client.post(
        '/select', json=select_body(**{field: value}))
    assert answer.status_code == 403, answer.text
    assert answer.json()['field'].startswith(field)


def test_files_route_refuses_traversal(setup):
    client = setup['service'].client
    for path in ('/files/..%2f..%2fdata%2fgt.json', '/files/%2e%2e/x',
                 '/files/run%2f..%2f..%2fdata/gt.json'):
        assert client.get(path).status_code == 403, path
    assert client.get('/files/run/nope.json').status_code == 404


def test_bad_strategy_or_budget_gets_422_naming_the_field(setup):
    client = setup['service'].client
    answer = client.post('/select', json=select_body(strategy='Entropy'))
    assert answer.status_code == 422
    assert answer.json()['field'] == 'strategy'
    assert 'EntropyStrategy' in answer.json()['detail']
    answer = client.post('/select', json=select_body(
        strategy='EntropyStrategy', options=dict(reductoin='max')))
    assert answer.status_code == 422 and 'reductoin' in answer.text
    for budget in (0, -3, 'many'):
        answer = client.post('/select', json=select_body(budget=budget))
        assert answer.status_code == 422
        assert answer.json()['detail'][0]['loc'] == ['body', 'budget']
    answer = client.post('/select', json=select_body(colour='red'))
    assert answer.status_code == 422 and 'colour' in answer.text


def test_a_whole_loop(setup):
    """select -> label the picks from the ground truth -> train -> select
    again from the new checkpoint, the labeled images left out."""
    service, data = setup['service'], setup['data']
    first = service.wait(service.client.post(
        '/select', json=select_body()).json()['id'])
    picked = [s['image'].split('/', 1)[1] for s in first['result']['selected']]
    (data / 'labels.json').write_text(
        json.dumps(labels_of(setup['gt'], picked)))
    seen = []
    train = service.client.post('/train', json=dict(
        labels='labels.json', images='pool', config='entropy_digits.py',
        checkpoint='run/cycle_0.pth', epochs=2)).json()
    trained = service.wait(train['id'], seen=seen)
    assert trained['state'] == 'done', (trained, service.output())
    assert trained['result']['started_from'] == 'run/cycle_0.pth'
    steps = [p['done'] for _, p in seen if p.get('stage') == 'training'
             and p['total']]
    assert steps and steps == sorted(steps) and steps[-1] == seen[-1][1][
        'total']
    latest = json.loads((setup['work'] / 'service' / 'latest.json')
                        .read_text())
    assert latest['checkpoint'] == trained['result']['checkpoint']
    assert (setup['work'] / latest['checkpoint']).is_file()

    again = service.wait(service.client.post('/select', json=select_body(
        checkpoint='latest', labeled='labels.json')).json()['id'])
    assert again['state'] == 'done', again
    result = again['result']
    assert result['num_labeled'] == BUDGET and result['num_pool'] == 29
    assert not {s['image'] for s in result['selected']} & {
        f'pool/{p}' for p in picked}


def test_evaluate_gives_map_overall_and_per_class(setup):
    service, gt = setup['service'], setup['gt']
    names = [i['file_name'] for i in gt['images'][:6]]
    (setup['data'] / 'six.json').write_text(json.dumps(labels_of(gt, names)))
    # the one-cycle model scores every box below test_cfg's 0.05
    (setup['run'] / 'all_boxes.py').write_text(
        "_base_ = './entropy_digits.py'\n"
        'model = dict(test_cfg=dict(score_thr=0.0))\n')
    seen = []
    job = service.wait(service.client.post('/evaluate', json=dict(
        labels='six.json', images='pool', config='all_boxes.py',
        checkpoint='run/cycle_0.pth')).json()['id'], seen=seen)
    assert job['state'] == 'done', (job, service.output())
    result = job['result']
    assert result['num_images'] == 6 and result['notes'] == []
    for key in ('pascal_voc/mAP', 'coco/bbox_mAP', 'coco/bbox_mAP_50'):
        assert 0 <= result['metrics'][key] <= 1
    classes = [c['name'] for c in gt['categories']]
    assert set(result['per_class']) == {'pascal_voc/AP50', 'coco/precision'}
    for table in result['per_class'].values():
        assert list(table) == classes
    present = {c['name'] for c in gt['categories'] if any(
        a['category_id'] == c['id'] for a in labels_of(gt, names)
        ['annotations'])}
    voc = result['per_class']['pascal_voc/AP50']
    assert {c for c, ap in voc.items() if ap is not None} == present
    evaluating = [p for _, p in seen if p['stage'] == 'evaluating']
    assert evaluating[-1]['done'] == evaluating[-1]['total'] == 6
    assert [(p['stage'], p['done']) for p in job['progress']['passes']] == [
        ('evaluating', 6)]
    # no detection at all: COCO gives no value, and the result says why
    job = service.wait(service.client.post('/evaluate', json=dict(
        labels='six.json', images='pool', config='entropy_digits.py',
        checkpoint='run/cycle_0.pth', metrics=['coco'])).json()['id'])
    assert job['state'] == 'done', (job, service.output())
    assert 'no detection' in job['result']['notes'][0]
    answer = service.client.post('/evaluate', json=dict(
        labels='six.json', images='pool', config='entropy_digits.py',
        checkpoint='run/cycle_0.pth', metrics=['map']))
    assert answer.status_code == 422
    assert answer.json()['detail'][0]['loc'][:2] == ['body', 'metrics']


def test_a_killed_service_marks_its_job_failed(setup):
    """Killed mid-job and restarted: the job is failed, the finished jobs
    are intact, and the worker did not outlive the service."""
    service = setup['service']
    finished = service.client.post('/select', json=select_body()).json()
    assert service.wait(finished['id'])['state'] == 'done'
    done = [j for j in service.client.get('/jobs').json()
            if j['state'] == 'done']
    job_id = service.client.post('/select', json=select_body()).json()['id']
    deadline = time.time() + 120
    while service.client.get(f'/jobs/{job_id}').json()['state'] != \
            'running':
        assert time.time() < deadline
        time.sleep(0.1)
    worker = service.client.get(f'/jobs/{job_id}').json()['pid']
    service.stop(signal.SIGKILL)
    restarted = Service(setup['work'], setup['data'], setup['run'])
    setup['service'] = restarted
    job = restarted.client.get(f'/jobs/{job_id}').json()
    assert job['state'] == 'failed' and 'stopped' in job['error']
    for old in done:
        again = restarted.client.get(f'/jobs/{old["id"]}').json()
        assert again['state'] == 'done'
        assert again['result']['selected' if again['kind'] == 'select'
                               else 'checkpoint']
    deadline = time.time() + 10
    while time.time() < deadline and os.path.exists(f'/proc/{worker}') \
            and 'zombie' not in open(f'/proc/{worker}/status').read().lower():
        time.sleep(0.2)
    assert not os.path.exists(f'/proc/{worker}') or 'zombie' in open(
        f'/proc/{worker}/status').read().lower()
