"""The service's jobs: kept on disk, run one at a time in a child process.

A job is a folder ``<work_dir>/service/jobs/<id>/``:

- ``job.json``: ``id``, ``kind`` (``select``...), ``state`` (``queued``,
  ``running``, ``done``, ``failed``), ``request`` (as the client sent it),
  ``spec`` (the request with every path resolved, what the worker reads),
  ``created`` / ``started`` / ``finished`` (UNIX times), ``error``;
- ``progress.json``: what the worker is doing (``stage``, ``done``,
  ``total``, ``rate`` images/s, ``eta`` s), written as it goes, and
  ``passes``: the last snapshot of each pass that ended;
- ``result.json`` and the job's exports, written when it is done;
- ``log.txt``: the worker's output.

:class:`JobRunner` runs the queued jobs in order, each as
``python -m al_plugin.service.worker <job dir> <service pid>``, so the
service answers (``/health``, ``/jobs``) while a model runs, and a job goes
on when its client disconnects. A restarted service finds the jobs on disk: the
finished ones as they were, and one that was queued or running when the
service stopped as ``failed``, saying so (:meth:`JobStore.recover`).
"""
import json
import os
import os.path as osp
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
from typing import List, Optional

from al_plugin.utils import atomic_write_json

#: a job id: its creation time and 6 random hex digits
JOB_ID = re.compile(r'^\d{8}-\d{6}-[0-9a-f]{6}$')
STATES = ('queued', 'running', 'done', 'failed')
JOB_FILE, PROGRESS_FILE, RESULT_FILE, LOG_FILE = ('job.json',
                                                  'progress.json',
                                                  'result.json', 'log.txt')


def read_json(path: str) -> Optional[dict]:
    """The JSON object in ``path``, None if there is none (yet)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class JobStore:
    """The job folders under ``root`` (``<work_dir>/service/jobs``).

    Args:
        root (str): The folder (made if missing).
    """

    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, exist_ok=True)
        self._lock = threading.Lock()

    def folder(self, job_id: str) -> str:
        """The job's folder.

        Raises:
            KeyError: ``job_id`` is not an id or no such job exists.
        """
        if not isinstance(job_id, str) or not JOB_ID.match(job_id) or \
                not osp.isfile(osp.join(self.root, job_id, JOB_FILE)):
            raise KeyError(f'no job {job_id!r}')
        return osp.join(self.root, job_id)

    def create(self, kind: str, request: dict, spec: dict) -> dict:
        """A new ``queued`` job; returns its ``job.json``."""
        job_id = time.strftime('%Y%m%d-%H%M%S-') + secrets.token_hex(3)
        os.makedirs(osp.join(self.root, job_id))
        job = dict(id=job_id, kind=kind, state='queued', request=request,
                   spec=spec, created=time.time(), started=None,
                   finished=None, error=None)
        atomic_write_json(osp.join(self.root, job_id, JOB_FILE), job)
        return job

    def job(self, job_id: str) -> dict:
        """The job's ``job.json``."""
        return read_json(osp.join(self.folder(job_id), JOB_FILE))

    def update(self, job_id: str, **fields) -> dict:
        """Change fields of ``job.json`` (atomically); returns it."""
        with self._lock:
            job = self.job(job_id)
            job.update(fields)
            atomic_write_json(osp.join(self.root, job_id, JOB_FILE), job)
        return job

    def view(self, job_id: str) -> dict:
        """What ``GET /jobs/{id}`` shows: ``job.json`` less its ``spec``,
        with ``progress`` and, once done, ``result``."""
        folder = self.folder(job_id)
        job = self.job(job_id)
        job.pop('spec', None)
        job['progress'] = read_json(osp.join(folder, PROGRESS_FILE))
        job['result'] = read_json(osp.join(folder, RESULT_FILE)) \
            if job['state'] == 'done' else None
        return job

    def ids(self) -> List[str]:
        """Every job's id, oldest first."""
        return sorted(
            name for name in os.listdir(self.root) if JOB_ID.match(name)
            and osp.isfile(osp.join(self.root, name, JOB_FILE)))

    def recover(self) -> List[str]:
        """Mark the jobs that were queued or running when the service
        stopped as ``failed``; returns their ids."""
        lost = []
        for job_id in self.ids():
            state = self.job(job_id)['state']
            if state in ('queued', 'running'):
                self.update(
                    job_id,
                    state='failed',
                    finished=time.time(),
                    error=f'the service stopped while the job was {state}')
                lost.append(job_id)
        return lost


class JobRunner(threading.Thread):
    """Runs the store's jobs one at a time, in the order submitted.

    Args:
        store (JobStore): Where the jobs are.
        env (dict, optional): More environment of the workers.
    """

    def __init__(self, store: JobStore, env: Optional[dict] = None) -> None:
        super().__init__(name='al-service-jobs', daemon=True)
        self.store = store
        self.env = dict(os.environ, **(env or {}))
        self._queue: 'queue.Queue[Optional[str]]' = queue.Queue()
        self._waiting: List[str] = []
        self._current: Optional[str] = None
        self._process: Optional[subprocess.Popen] = None
        self._lock = threading.Lock()

    def submit(self, job_id: str) -> int:
        """Queue a job; returns how many jobs run or wait before it."""
        with self._lock:
            ahead = len(self._waiting) + (self._current is not None)
            self._waiting.append(job_id)
        self._queue.put(job_id)
        return ahead

    def busy(self) -> dict:
        """``running`` (an id or None) and ``queued`` (ids, in order)."""
        with self._lock:
            return dict(running=self._current, queued=list(self._waiting))

    def stop(self) -> None:
        """Stop the worker of the running job (marked failed) and end."""
        self._queue.put(None)
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    def run(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._lock:
                self._waiting.remove(job_id)
                self._current = job_id
            try:
                self._run_one(job_id)
            finally:
                with self._lock:
                    self._current = None
                    self._process = None

    def _run_one(self, job_id: str) -> None:
        folder = self.store.folder(job_id)
        with open(osp.join(folder, LOG_FILE), 'w') as log:
            self._process = subprocess.Popen(
                [sys.executable, '-m', 'al_plugin.service.worker', folder,
                 str(os.getpid())],
                stdout=log, stderr=subprocess.STDOUT, env=self.env)
            self.store.update(job_id, state='running', started=time.time(),
                              pid=self._process.pid)
            code = self._process.wait()
        if code == 0 and osp.isfile(osp.join(folder, RESULT_FILE)):
            self.store.update(job_id, state='done', finished=time.time())
            return
        self.store.update(job_id, state='failed', finished=time.time(),
                          error=last_error(osp.join(folder, LOG_FILE), code))


def last_error(log_path: str, code: int) -> str:
    """The worker's last output line that names an error, else its exit
    code."""
    try:
        with open(log_path, errors='replace') as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        lines = []
    for line in reversed(lines):
        if 'Error' in line or 'error' in line:
            return line[-2000:]
    return f'the worker exited with code {code}' + (
        f': {lines[-1][-2000:]}' if lines else '')
