"""The Label Studio backend's state on disk (:mod:`.ls_backend`): the
events and annotations received, the train jobs started, the checkpoint
those made."""
import threading
import time
from typing import Optional

from al_plugin.utils import atomic_write_json
from .jobs import read_json

#: the events whose annotations the webhook records
ANNOTATION_EVENTS = ('ANNOTATION_CREATED', 'ANNOTATION_UPDATED')
#: most annotations the status keeps (the counts go on)
KEEP_ANNOTATIONS = 200


class BackendState:
    """``<work_dir>/service/label_studio/state.json``: the events and
    annotations received, the train jobs started, the checkpoint those
    made; changed under a lock, written atomically."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()

    def read(self) -> dict:
        state = read_json(self.path) or {}
        state.setdefault('events', {})
        state.setdefault('annotations', [])
        state.setdefault('annotations_received', 0)
        state.setdefault('since_train', 0)
        state.setdefault('train_jobs', [])
        state.setdefault('pending', None)
        state.setdefault('checkpoint', None)
        state.setdefault('error', None)
        return state

    def change(self, update) -> dict:
        """``update(state)`` changes the state in place; it is written."""
        with self._lock:
            state = self.read()
            update(state)
            atomic_write_json(self.path, state)
            return state

    def forget_lost_export(self) -> None:
        """An export that a stopped service left half-done is no pending
        train job (a queued or running one is marked failed by the job
        store)."""

        def update(s):
            if s['pending'] and not s['pending'].get('job'):
                s['pending'] = None

        self.change(update)

    def record(self, action: str, annotation: dict, task: dict,
               project: Optional[int], train_every: int) -> tuple:
        """Count a webhook event; record an annotation event; after
        ``train_every`` new annotations (and no train job pending) mark a
        train job on ``project`` pending.

        Returns:
            tuple: the state, and whether a train job is to start.
        """
        train = []

        def update(s):
            s['events'][action] = s['events'].get(action, 0) + 1
            if action not in ANNOTATION_EVENTS:
                return
            s['annotations'].append(dict(
                action=action, annotation=annotation.get('id'),
                task=task.get('id') or annotation.get('task'),
                project=project, time=time.time()))
            del s['annotations'][:-KEEP_ANNOTATIONS]
            if action != 'ANNOTATION_CREATED':
                return
            s['annotations_received'] += 1
            s['since_train'] += 1
            if train_every and s['since_train'] >= train_every and \
                    not s['pending'] and project is not None:
                s['since_train'] = 0
                s['pending'] = dict(job=None, project=project)
                train.append(project)

        return self.change(update), bool(train)

    def train_started(self, job: str, project: int, **about) -> None:
        """Train job ``job`` on ``project`` is queued (``about``: what it
        trains on, kept in its entry of ``train_jobs``)."""

        def update(s):
            s['pending'] = dict(job=job, project=project)
            s['train_jobs'].append(dict(job=job, project=project,
                                        state='queued', **about,
                                        time=time.time()))
            s['error'] = None

        self.change(update)

    def train_not_started(self, project: int, message: str) -> None:
        """No train job could be queued on ``project`` (said why)."""

        def update(s):
            s['pending'] = None
            s['error'] = f'training on project {project} not started: ' \
                f'{message}'

        self.change(update)

    def train_finished(self, job: str, state: str, error: Optional[str],
                       checkpoint: Optional[str]) -> None:
        """Train job ``job`` ended in ``state`` (``done``: its
        ``checkpoint`` predicts from now on; else ``error`` is said)."""

        def update(s):
            s['pending'] = None
            for entry in s['train_jobs']:
                if entry['job'] == job:
                    entry.update(state=state, error=error)
            if checkpoint:
                s['checkpoint'] = checkpoint
            else:
                s['error'] = f'train job {job} failed: {error}'

        self.change(update)
