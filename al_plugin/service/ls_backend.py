"""What the Label Studio routes do (:mod:`.label_studio`): pre-annotate
tasks, record the webhook's events, start train jobs on the project's
annotations; the backend's state on disk."""
import hashlib
import os
import os.path as osp
import threading
import time
from typing import Dict

from al_plugin.utils import atomic_write_json
from .settings import RequestError, checkpoint_path
from .jobs import JobRunner, JobStore, read_json
from .ls_client import ImageCache, LabelStudioClient, Predictor, image_size
from .ls_format import (RectangleTarget, annotations_to_coco,
                        final_annotation, ls_regions, parse_labeling_config,
                        project_id)
from .ls_state import BackendState
from .paths import resolve_inside

#: the folder of the backend's files, under ``<work_dir>/service``
FOLDER = 'label_studio'


class LabelStudioBackend:
    """The ``/ls`` routes' work over the service's folders.

    Args:
        settings (ServiceSettings): The service's.
        ls (LabelStudioSettings): How to answer Label Studio.
        store (JobStore): Where train jobs are created.
        runner (JobRunner): Where they are queued.
    """

    def __init__(self, settings, ls, store: JobStore,
                 runner: JobRunner) -> None:
        self.settings, self.ls = settings, ls
        self.store, self.runner = store, runner
        self.folder = osp.join(settings.work_dir, 'service', FOLDER)
        self.images = ImageCache(osp.join(self.folder, 'images'))
        self.state = BackendState(osp.join(self.folder, 'state.json'))
        self.state.forget_lost_export()
        self.predictor = Predictor()
        # what /setup told: Label Studio's address and token, labeling
        # configs
        self.remote: Dict[str, object] = dict(hostname=None,
                                              access_token=None, configs={})

    def config_path(self) -> str:
        if self.ls.config is None:
            raise RequestError(422, 'config', 'the service was started '
                               'without --ls-config: it has no model for '
                               'Label Studio')
        return resolve_inside(self.settings.config_dir, self.ls.config,
                              'config', kind='file')

    def settle_train_job(self) -> None:
        """Note a finished train job of the webhook's (its checkpoint
        predicts from now on, when ``--ls-checkpoint`` is a path)."""
        pending = self.state.read()['pending']
        if not pending or not pending.get('job'):
            return
        try:
            job = self.store.job(pending['job'])
        except KeyError:
            job = dict(state='failed', error='its folder is gone')
        if job['state'] not in ('done', 'failed'):
            return
        result = read_json(osp.join(self.store.folder(pending['job']),
                                    'result.json')) \
            if job['state'] == 'done' else None
        self.state.train_finished(pending['job'], job['state'],
                                  job.get('error'),
                                  result['checkpoint'] if result else None)

    def checkpoint(self) -> str:
        """The checkpoint that predicts now (absolute)."""
        self.settle_train_job()
        value = self.ls.checkpoint
        if value != 'latest':
            value = self.state.read()['checkpoint'] or value
        try:
            return checkpoint_path(self.settings, value)
        except RequestError as e:
            raise RequestError(422, 'checkpoint', f'--ls-checkpoint: {e}')

    def model_version(self, config: str, weights: str) -> str:
        ls = self.ls
        stat = os.stat(weights)
        rel = osp.relpath(weights, osp.realpath(self.settings.work_dir))
        digest = hashlib.sha1(repr((
            rel, stat.st_mtime_ns, stat.st_size, osp.basename(config),
            ls.strategy, sorted((ls.options or {}).items()),
            ls.score_thr)).encode()).hexdigest()[:8]
        return f'{rel.replace(os.sep, "/")}#{digest}'

    def client(self) -> LabelStudioClient:
        url = self.ls.url or self.remote['hostname']
        if not url:
            raise RequestError(503, 'LABEL_STUDIO_URL', 'Label Studio\'s '
                               'address is unknown: set LABEL_STUDIO_URL '
                               '(and LABEL_STUDIO_API_KEY) for the service')
        try:
            return LabelStudioClient(url, self.ls.api_key or
                                     self.remote['access_token'])
        except ValueError as e:
            raise RequestError(503, 'LABEL_STUDIO_URL', str(e))

    def target_of(self, label_config, project) -> RectangleTarget:
        label_config = label_config or self.remote['configs'].get(
            project_id(project))
        try:
            return parse_labeling_config(label_config)
        except ValueError as e:
            raise RequestError(422, 'label_config', str(e))

    def setup(self, body: dict) -> dict:
        self.target_of(body.get('schema'), None)
        self.remote['configs'][project_id(body.get('project'))] = \
            body.get('schema')
        for key in ('hostname', 'access_token'):
            if body.get(key):
                self.remote[key] = body[key]
        config = self.config_path()
        return dict(model_version=self.model_version(config,
                                                     self.checkpoint()))

    def fetch_images(self, tasks: list, target: RectangleTarget) -> tuple:
        """The tasks' images downloaded: ``{task index: cache name}`` and
        ``{task index: error}``; a 502 when none could be."""
        files, errors = {}, {}
        http = self.client()
        try:
            for i, task in enumerate(tasks):
                ref = (task.get('data') or {}).get(target.data_key)
                try:
                    files[i] = self.images.fetch(http, ref)
                except Exception as e:  # one task's image: reported
                    errors[i] = f'task {task.get("id")}: {e}'
        finally:
            http.close()
        if not files:
            raise RequestError(502, 'tasks', 'no image could be '
                               'downloaded: ' + '; '.join(
                                   list(errors.values())[:3]))
        return files, errors

    def predict(self, body: dict) -> dict:
        tasks = body.get('tasks')
        if not isinstance(tasks, list):
            raise RequestError(422, 'tasks', 'tasks must be a list')
        target = self.target_of(body.get('label_config'),
                                body.get('project'))
        config, weights = self.config_path(), self.checkpoint()
        version = self.model_version(config, weights)
        if not tasks:
            return dict(results=[], model_version=version)
        files, errors = self.fetch_images(tasks, target)
        folder = self.images.folder
        try:
            query = self.predictor.query(
                config, weights, folder, sorted(set(files.values())),
                self.ls.strategy, self.ls.options, self.ls.score_thr)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise RequestError(422, 'tasks', f'{type(e).__name__}: {e}')
        coco = query.coco
        classes = [c['name'] for c in sorted(coco['categories'],
                                             key=lambda c: c['id'])]
        if not set(classes) & set(target.labels):
            raise RequestError(422, 'label_config', f'none of the model\'s '
                               f'classes {classes} is a label of '
                               f'<RectangleLabels name="{target.from_name}'
                               f'"> ({target.labels})')
        root = coco['info']['image_root']
        by_path = {
            osp.abspath(osp.join(root, image['file_name'])): (image, [])
            for image in coco['images']
        }
        by_id = {image['id']: boxes for image, boxes in by_path.values()}
        for ann in coco['annotations']:
            by_id[ann['image_id']].append(ann)
        results = []
        for i, task in enumerate(tasks):
            path = osp.abspath(osp.join(folder, files.get(i, '')))
            row = query.table.get(path)
            if i in errors or row is None or 'error' in row:
                results.append(dict(
                    result=[], model_version=version,
                    error=errors.get(i) or (row or {}).get('error')))
                continue
            image, boxes = by_path[path]
            regions, _ = ls_regions(boxes, image['width'], image['height'],
                                    classes, target, f'al{task.get("id")}')
            results.append(dict(result=regions, score=row['score'],
                                model_version=version))
        return dict(results=results, model_version=version)

    def export_coco(self, project: int, label_config) -> tuple:
        """The project's annotations, exported from Label Studio, as COCO
        (:func:`.annotations_to_coco`), with the config and checkpoint to
        train from: ``(coco, skipped, config, weights)``."""
        target = self.target_of(label_config, project)
        config, weights = self.config_path(), self.checkpoint()
        from al_plugin.engine.image_query import config_classes
        from mmengine.config import Config
        classes = [str(c) for c in config_classes(
            Config.fromfile(config).train_dataloader['dataset'])]
        http = self.client()
        try:
            tasks = http.export(project)
            sizes = {}
            for task in tasks:
                if final_annotation(task) is None:
                    continue
                name = self.images.fetch(
                    http, (task.get('data') or {}).get(target.data_key))
                sizes[task['id']] = (name,) + image_size(
                    osp.join(self.images.folder, name))
        finally:
            http.close()
        coco, skipped = annotations_to_coco(tasks, sizes, classes)
        return coco, skipped, config, weights

    def start_training(self, project: int, label_config) -> None:
        """Export the project's annotations, make them COCO and queue a
        train job on them (in a thread: Label Studio waits for the
        webhook's answer)."""
        ls, work_dir = self.ls, self.settings.work_dir
        try:
            coco, skipped, config, weights = self.export_coco(project,
                                                              label_config)
            if not coco['images']:
                raise ValueError(f'project {project} has no annotated task '
                                 'to train on')
            stamp = time.strftime('%Y%m%d-%H%M%S')
            labels = osp.join(self.folder, 'labels',
                              f'project_{project}_{stamp}.json')
            atomic_write_json(labels, coco)
            spec = dict(labels=labels,
                        images_root=osp.realpath(self.images.folder),
                        config=config, checkpoint=weights,
                        epochs=ls.train_epochs,
                        work_dir=osp.realpath(work_dir))
            job = self.store.create('train', dict(
                source='label_studio', project=project,
                images=len(coco['images']),
                boxes=len(coco['annotations']), skipped=skipped,
                epochs=ls.train_epochs), spec)
            self.runner.submit(job['id'])
            self.state.train_started(
                job['id'], project, labels=osp.relpath(labels, work_dir),
                images=len(coco['images']), boxes=len(coco['annotations']),
                skipped=skipped)
        except Exception as e:  # said in /ls/status
            self.state.train_not_started(project, f'{type(e).__name__}: {e}')

    def webhook(self, body: dict) -> dict:
        action = str(body.get('action') or 'unknown')
        annotation = body.get('annotation') or {}
        project = project_id(body.get('project')) or project_id(
            annotation.get('project'))
        self.settle_train_job()
        recorded, train = self.state.record(
            action, annotation, body.get('task') or {}, project,
            self.ls.train_every)
        if train:
            about = body.get('project')
            label_config = about.get('label_config') if isinstance(
                about, dict) else None
            threading.Thread(target=self.start_training, name='ls-train',
                             args=(project, label_config),
                             daemon=True).start()
        return dict(status='ok', action=action,
                    annotations_received=recorded['annotations_received'],
                    training=train)

    def status(self) -> dict:
        self.settle_train_job()
        ls = self.ls
        answer = dict(settings=ls._replace(api_key='***' if ls.api_key
                                           else None)._asdict(),
                      **self.state.read())
        try:
            config = self.config_path()
            weights = self.checkpoint()
            answer.update(checkpoint_used=osp.relpath(
                weights, osp.realpath(self.settings.work_dir)),
                model_version=self.model_version(config, weights))
        except RequestError as e:
            answer.update(checkpoint_used=None, model_version=None,
                          not_ready=str(e))
        return answer
