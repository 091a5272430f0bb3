"""The service as Label Studio's ML backend (``/ls``), with a real Label
Studio: started on 127.0.0.1 from its own virtual environment, a project
of rectangle labels made and digits images imported through its SDK, the
service connected as the project's model. Label Studio must store our
boxes and scores (the scores a ``/select`` job gives the same images), and
an annotation submitted through the SDK must reach the service's webhook,
start a train job on the annotations, after which predictions come from
the new checkpoint.

Label Studio pins its own Django and setuptools, so it lives in a venv
outside the clone (:func:`al_plugin.utils.cache_root`:
``${AL_PLUGIN_CACHE:-${XDG_CACHE_HOME:-~/.cache}/al_plugin}``), in
``label-studio-venv``, installed from the package registry on first use
(about 3 minutes) with a migrated database as a template beside it (about
1.5 minutes), and reused. Without the registry (and no venv) the Label
Studio tests skip, saying why. The conversions the backend makes are also
tested without Label Studio.
"""
import fcntl
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time
import warnings

import httpx
import pytest

from al_plugin.service.label_studio import (annotations_to_coco, cache_name,
                                            ls_regions,
                                            parse_labeling_config,
                                            region_box)
from al_plugin.utils import cache_root
from .conftest import REPO
from .test_export import ONE_CYCLE
from .test_resume import _data_root_options
from .test_service import Service, free_port

LABEL_STUDIO = 'label-studio==1.23.2'
CACHE = cache_root()
VENV = osp.join(CACHE, 'label-studio-venv')
READY = osp.join(VENV, '.al_plugin_ready')
TEMPLATE = osp.join(VENV, 'template', 'label_studio.sqlite3')
DRIVER = osp.join(REPO, 'tests', 'label_studio_driver.py')
EMAIL, PASSWORD = 'annotator@example.com', 'al-plugin-test'
CLASSES = [str(d) for d in range(10)]
NUM_IMAGES = 6
#: what Label Studio needs to talk to a backend on this machine (it blocks
#: local addresses by default) and not to call anywhere else
LS_ENV = dict(ML_BLOCK_LOCAL_IP='false', SSRF_PROTECTION_ENABLED='false',
              LATEST_VERSION_CHECK='false', COLLECT_ANALYTICS='false',
              SENTRY_DSN='', FRONTEND_SENTRY_DSN='')
CONFIG = ('ls_entropy.py', """_base_ = ['entropy_digits.py']
# the tiny model's boxes score about 0.01: keep its 3 best an image
model = dict(test_cfg=dict(score_thr=0.0, max_per_img=3))
""")

# --- the backend's conversions, without Label Studio ----------------------

XML = ('<View><Image name="img" value="$photo"/>'
       '<RectangleLabels name="box" toName="img"><Label value="cat"/>'
       '<Label value="dog"/></RectangleLabels></View>')


def test_labeling_config_names_the_rectangles():
    target = parse_labeling_config(XML)
    assert target == ('box', 'img', 'photo', ['cat', 'dog'])
    for xml, says in (('<View><Image name="i" value="$i"/></View>',
                       'no <RectangleLabels>'),
                      ('<View><RectangleLabels name="b" toName="x">'
                       '<Label value="a"/></RectangleLabels></View>',
                       'no <Image name="x"'),
                      ('<View', 'not XML')):
        with pytest.raises(ValueError, match=says):
            parse_labeling_config(xml)


def test_boxes_go_to_percent_and_back():
    target = parse_labeling_config(XML)
    detections = [dict(bbox=[10, 20, 30, 40], category_id=2, score=0.9),
                  dict(bbox=[0, 0, 5, 5], category_id=3, score=0.5)]
    regions, dropped = ls_regions(detections, 200, 100,
                                  ['cat', 'dog', 'cow'], target, 't1')
    assert dropped == 1 and len(regions) == 1  # no label "cow"
    value = regions[0]['value']
    assert (regions[0]['from_name'], regions[0]['to_name']) == ('box', 'img')
    assert value['rectanglelabels'] == ['dog'] and regions[0]['score'] == 0.9
    assert [value[k] for k in ('x', 'y', 'width', 'height')] == [5, 20, 15,
                                                                 40]
    assert region_box(value, 200, 100) == pytest.approx([10, 20, 30, 40])
    # rotated 90 degrees clockwise about its top-left corner (10, 20): the
    # box around it spans x 10 - 40 .. 10, y 20 .. 20 + 30, clipped at 0
    turned = dict(value, rotation=90)
    assert region_box(turned, 200, 100) == pytest.approx([0, 20, 10, 30])
    assert region_box(dict(value, x=100, y=100), 200, 100) is None


def test_annotations_become_coco():
    region = dict(type='rectanglelabels', original_width=200,
                  original_height=100,
                  value=dict(x=5, y=20, width=15, height=40, rotation=0,
                             rectanglelabels=['dog']))
    tasks = [
        dict(id=7, annotations=[
            dict(id=1, updated_at='2026-01-01', result=[region]),
            dict(id=2, updated_at='2026-01-02', result=[region, dict(
                region, value=dict(region['value'],
                                   rectanglelabels=['cow']))]),
            dict(id=3, updated_at='2026-01-03', was_cancelled=True,
                 result=[])]),
        dict(id=8, annotations=[]),
        dict(id=9, annotations=[dict(id=4, result=[])]),
    ]
    coco, skipped = annotations_to_coco(
        tasks, {7: ('a.jpg', 200, 100), 8: ('b.jpg', 200, 100)},
        ['cat', 'dog'])
    # task 7: annotation 2 (the last one not skipped); task 9: no image
    assert [(i['id'], i['ls_annotation']) for i in coco['images']] == [(7, 2)]
    assert skipped == dict(no_annotation=1, no_image=1, unknown_label=1,
                           empty_box=0)
    assert [(a['image_id'], a['category_id']) for a in coco['annotations']
            ] == [(7, 2)]
    assert coco['annotations'][0]['bbox'] == pytest.approx([10, 20, 30, 40])
    # a box without a mask, as al_plugin.engine.export.to_coco writes it
    assert coco['annotations'][0]['segmentation'] == []
    assert [c['name'] for c in coco['categories']] == ['cat', 'dog']


def test_cache_names_are_safe_and_distinct():
    one = cache_name('/data/upload/1/4e81ca76-DIGITS 07.jpg')
    assert one.endswith('_4e81ca76-DIGITS_07.jpg') and '/' not in one
    assert cache_name('/data/upload/2/4e81ca76-DIGITS 07.jpg') != one
    assert cache_name('/data/local-files/?d=dir/x.png').endswith('_x.png')
    assert not cache_name('/../..').startswith('.')


# --- a real Label Studio ---------------------------------------------------


def skip(reason: str):
    """Skip, saying why also where ``-q`` hides skip reasons."""
    warnings.warn(f'Label Studio tests skipped: {reason}')
    pytest.skip(reason)


def run(args, what: str, timeout: int, env=None) -> str:
    proc = subprocess.run(args, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        raise AssertionError(f'{what} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return proc.stdout


def label_studio_python() -> str:
    """Label Studio's venv python: installed once (under a lock: another
    test process may be installing it), then reused."""
    python = osp.join(VENV, 'bin', 'python')
    os.makedirs(CACHE, exist_ok=True)
    with open(osp.join(CACHE, 'label-studio-venv.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not osp.isfile(READY) and osp.isfile(python) and subprocess.run(
                [python, '-c', 'import label_studio, label_studio_sdk; '
                 'assert label_studio.__version__ == "1.23.2"'],
                capture_output=True, timeout=120).returncode == 0:
            with open(READY, 'w') as f:  # installed by hand (README)
                f.write('found installed\n')
        if not osp.isfile(READY):
            shutil.rmtree(VENV, ignore_errors=True)
            probe = subprocess.run(
                [sys.executable, '-m', 'pip', 'index', 'versions',
                 'label-studio'], capture_output=True, text=True,
                timeout=120)
            if probe.returncode != 0 or '1.23.2' not in probe.stdout:
                said = [line for line in (probe.stderr + probe.stdout)
                        .splitlines() if line.startswith('ERROR')]
                skip('the package registry cannot be reached to install '
                     f'{LABEL_STUDIO} (pip index versions label-studio: '
                     f'{" ".join(said)[-300:] or "no 1.23.2"})')
            start = time.time()
            run([sys.executable, '-m', 'venv', VENV], 'making a venv', 120)
            run([python, '-m', 'pip', 'install', '-q', LABEL_STUDIO,
                 'label-studio-sdk'], f'pip install {LABEL_STUDIO}', 1200)
            run([python, '-c', 'import label_studio, label_studio_sdk'],
                'importing Label Studio', 120)
            with open(READY, 'w') as f:
                f.write(f'installed in {time.time() - start:.0f} s\n')
        if not osp.isfile(TEMPLATE):
            make_template(python)
    return python


def make_template(python: str) -> None:
    """A database with Label Studio's migrations applied: a new data dir
    starts from a copy (starting then takes seconds, not minutes)."""
    manage = run([python, '-c', 'import label_studio, os; print(os.path.'
                  'join(os.path.dirname(label_studio.__file__), '
                  '"manage.py"))'], 'finding manage.py', 60).strip()
    folder = osp.dirname(TEMPLATE)
    scratch = folder + '.tmp'
    shutil.rmtree(scratch, ignore_errors=True)
    run([python, manage, 'migrate', '--no-color', '-v', '0'],
        'migrating a template database', 900,
        env=dict(os.environ, **LS_ENV, LABEL_STUDIO_BASE_DATA_DIR=scratch))
    os.makedirs(folder, exist_ok=True)
    shutil.copy(osp.join(scratch, 'label_studio.sqlite3'), TEMPLATE + '.tmp')
    os.replace(TEMPLATE + '.tmp', TEMPLATE)
    shutil.rmtree(scratch, ignore_errors=True)


class LabelStudio:
    """``label-studio start`` on 127.0.0.1 at a free port, in its own
    process group; the driver script run with its python."""

    def __init__(self, python: str, data_dir):
        self.python = python
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        data_dir.mkdir(parents=True)
        shutil.copy(TEMPLATE, data_dir / 'label_studio.sqlite3')
        self.log = open(data_dir / 'label_studio.log', 'w')
        env = dict(os.environ, **LS_ENV)
        env.pop('HOST', None)
        self.process = subprocess.Popen(
            [osp.join(osp.dirname(python), 'label-studio'), 'start',
             '--internal-host', '127.0.0.1', '--host', self.url,
             '--port', str(self.port), '--data-dir', str(data_dir),
             '--username', EMAIL, '--password', PASSWORD, '--no-browser'],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        self.started = time.time()

    def wait(self, timeout=300) -> float:
        """Wait for ``/health``; returns the seconds since the start."""
        deadline = self.started + timeout
        while True:
            assert self.process.poll() is None, self.output()
            try:
                if httpx.get(self.url + '/health', timeout=5).status_code \
                        == 200:
                    return time.time() - self.started
            except httpx.TransportError:
                pass
            assert time.time() < deadline, self.output()
            time.sleep(0.5)

    def output(self) -> str:
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()[-4000:]

    def drive(self, command, *args, key=None) -> dict:
        auth = ['--key', key] if key else []
        out = run([self.python, DRIVER, command, '--url', self.url, *auth,
                   *map(str, args)], f'driver {command}', 600)
        return json.loads(out.strip().splitlines()[-1])

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        self.log.close()


@pytest.fixture(scope='module')
def loop(tmp_path_factory, digits_root):
    """Label Studio with a project of the digits classes and 6 imported
    images; the service (a one-cycle entropy model, ``--ls-train-every 1``)
    connected as its model."""
    python = label_studio_python()
    base = tmp_path_factory.mktemp('label_studio')
    times = {}
    studio = LabelStudio(python, base / 'ls_data')
    work, data = base / 'work', base / 'data'
    run_dir = work / 'run'
    start = time.time()
    subprocess.run([
        sys.executable, 'tools/train.py', 'configs/entropy_digits.py',
        '--work-dir', str(run_dir), '--cfg-options'
    ] + ONE_CYCLE + _data_root_options(digits_root), cwd=REPO, check=True,
        capture_output=True)
    times['tiny model'] = time.time() - start
    (run_dir / CONFIG[0]).write_text(CONFIG[1])
    gt = json.loads(
        (digits_root / 'annotations' / 'instances_trainval.json').read_text())
    (data / 'pool').mkdir(parents=True)
    for image in gt['images'][:NUM_IMAGES]:
        name = image['file_name'].replace('/', '_')
        shutil.copy(digits_root / image['file_name'], data / 'pool' / name)
    try:
        times['Label Studio up'] = studio.wait()
        token = studio.drive('token', '--email', EMAIL, '--password',
                             PASSWORD)['token']
        start = time.time()
        with pytest.MonkeyPatch.context() as env:
            env.setenv('LABEL_STUDIO_URL', studio.url)
            env.setenv('LABEL_STUDIO_API_KEY', token)
            service = Service(
                work, data, run_dir, '--ls-config', CONFIG[0],
                '--ls-checkpoint', 'run/cycle_0.pth', '--ls-score-thr', '0',
                '--ls-train-every', '1', '--ls-train-epochs', '1')
        times['service up'] = time.time() - start
        start = time.time()
        images = sorted((data / 'pool').iterdir())
        project = studio.drive(
            'project', '--title', 'digits to label', '--labels', *CLASSES,
            '--images', *images, '--backend', f'{service.url}/ls', key=token)
        times['project, import, connect'] = time.time() - start
        yield dict(studio=studio, service=service, token=token, data=data,
                   work=work, project=project, times=times)
    finally:
        print('timings (s):', {k: round(v, 1) for k, v in times.items()})
        studio.stop()
        if 'service' in locals() and service.process.poll() is None:
            service.stop()


def select_scores(service, files) -> dict:
    """A ``/select`` job's scores and boxes of the pool files."""
    answer = service.client.post('/select', json=dict(
        images=[f'pool/{f}' for f in files], config=CONFIG[0],
        checkpoint='run/cycle_0.pth', budget=len(files), score_thr=0.0))
    assert answer.status_code == 202, answer.text
    job = service.wait(answer.json()['id'])
    assert job['state'] == 'done', (job, service.output())
    return {s['image'].split('/', 1)[1]: s for s in job['result']['selected']}


def test_label_studio_stores_our_predictions(loop):
    studio, service, project = loop['studio'], loop['service'], loop[
        'project']
    backend = project['ml_backend']
    assert backend['state'] == 'CO', backend  # connected: /health, /setup
    status = service.client.get('/ls/status').json()
    assert backend['model_version'] == status['model_version']
    start = time.time()
    stored = studio.drive('predict', '--project', project['project'],
                          key=loop['token'])
    loop['times']['retrieve predictions'] = time.time() - start
    by_task = {p['task']: p for p in stored['predictions']}
    tasks = project['tasks']
    assert sorted(by_task) == sorted(t['id'] for t in tasks)
    start = time.time()
    expected = select_scores(service, [t['file'] for t in tasks])
    loop['times']['/select job'] = time.time() - start
    for task in tasks:
        prediction, picked = by_task[task['id']], expected[task['file']]
        assert prediction['model_version'] == status['model_version']
        # the strategy's score of the image, as the /select job gives it
        assert prediction['score'] == pytest.approx(picked['score'],
                                                    rel=1e-6)
        regions = prediction['result']
        assert {(r['from_name'], r['to_name'], r['type']) for r in regions
                } == {('label', 'image', 'rectanglelabels')}
        assert len(regions) == len(picked['boxes']) > 0
        ours = sorted((r['value']['rectanglelabels'][0], r['score'], [
            r['value'][k] * r[f'original_{size}'] / 100
            for k, size in (('x', 'width'), ('y', 'height'),
                            ('width', 'width'), ('height', 'height'))
        ]) for r in regions)
        theirs = sorted((b['class'], b['score'], b['bbox'])
                        for b in picked['boxes'])
        for (name, score, bbox), (name_, score_, bbox_) in zip(ours, theirs):
            assert name == name_ and name in CLASSES
            assert score == pytest.approx(score_, rel=1e-6)
            assert bbox == pytest.approx(bbox_, abs=1e-3)
    # the scores differ from image to image: they can order the tasks
    assert len({round(p['score'], 9) for p in by_task.values()}) > 1


def test_an_annotation_reaches_the_webhook_and_retrains(loop):
    studio, service, project = loop['studio'], loop['service'], loop[
        'project']
    task = project['tasks'][0]
    box = dict(x=10, y=20, width=25, height=50, rotation=0,
               rectanglelabels=['3'])
    result = [dict(from_name='label', to_name='image',
                   type='rectanglelabels', original_width=64,
                   original_height=64, value=box)]
    made = studio.drive('annotate', '--task', task['id'], '--result',
                        json.dumps(result), key=loop['token'])
    deadline = time.time() + 60
    while True:
        status = service.client.get('/ls/status').json()
        seen = [a for a in status['annotations']
                if a['annotation'] == made['annotation']]
        if seen:
            break
        assert time.time() < deadline, status
        time.sleep(0.5)
    assert seen[0]['task'] == task['id'] and seen[0]['action'] == \
        'ANNOTATION_CREATED'
    assert status['annotations_received'] >= 1
    # --ls-train-every 1: a train job on the exported annotations
    start = time.time()
    deadline = time.time() + 900
    while not status['train_jobs'] or status['train_jobs'][-1]['state'] \
            not in ('done', 'failed'):
        assert time.time() < deadline and not status['error'], status
        time.sleep(1)
        status = service.client.get('/ls/status').json()
    loop['times']['train job'] = time.time() - start
    trained = status['train_jobs'][-1]
    assert trained['state'] == 'done', (trained, service.output())
    labels = json.loads((loop['work'] / trained['labels']).read_text())
    assert [i['id'] for i in labels['images']] == [task['id']]
    assert labels['images'][0]['file_name'].endswith(task['file'])
    ann, = labels['annotations']
    assert labels['categories'][ann['category_id'] - 1]['name'] == '3'
    assert ann['bbox'] == pytest.approx([6.4, 12.8, 16, 32])
    # predictions now come from the train job's checkpoint
    assert status['checkpoint_used'].startswith('service/jobs/')
    assert status['checkpoint_used'] != 'run/cycle_0.pth'
    start = time.time()
    stored = studio.drive('predict', '--project', project['project'],
                          key=loop['token'])
    loop['times']['retrieve predictions again'] = time.time() - start
    new = [p for p in stored['predictions']
           if p['model_version'] == status['model_version']]
    assert sorted(p['task'] for p in new) == sorted(
        t['id'] for t in project['tasks'])
    assert all(p['score'] is not None and p['result'] for p in new)
    assert stored['ml_backend']['model_version'] == status['model_version']
