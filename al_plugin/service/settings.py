"""What the service may touch, how it refuses a request, and the
checkpoint a request names: shared by the app (:mod:`.app`) and the Label
Studio backend (:mod:`.ls_backend`)."""
import os.path as osp
from typing import Any, NamedTuple, Optional

from .jobs import read_json
from .paths import resolve_inside

#: the file a train job writes to point "latest" at its checkpoint
LATEST_FILE = 'latest.json'


class ServiceSettings(NamedTuple):
    """What the service may touch.

    Attributes:
        work_dir (str): Jobs, exports, checkpoints (``--work-dir``).
        data_root (str): Images and labels (``--data-root``).
        config_dir (str): The configs requests may name.
        token (str, optional): Required as ``Authorization: Bearer <token>``
            (or Basic auth, the token as password) on every route but
            ``/health`` when set.
        max_body (int): Largest request body, bytes.
        label_studio (LabelStudioSettings, optional): How the ``/ls``
            routes answer Label Studio (:mod:`.label_studio`); None: they
            answer ``/ls/health`` and say the rest are not configured.
    """
    work_dir: str
    data_root: str
    config_dir: str
    token: Optional[str] = None
    max_body: int = 1 << 20
    label_studio: Optional[Any] = None


class RequestError(Exception):
    """A request the service refuses: HTTP ``status``, the ``field`` at
    fault and a message."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field = status, field


def latest_file(work_dir: str) -> str:
    """The file that points "latest" at the newest train job's checkpoint
    (``{"checkpoint": path relative to work_dir, "job": id}``)."""
    return osp.join(work_dir, 'service', LATEST_FILE)


def checkpoint_path(settings: ServiceSettings, value: str) -> str:
    """The checkpoint a request names (``latest``: the train jobs')."""
    if value == 'latest':
        pointer = read_json(latest_file(settings.work_dir))
        if not pointer:
            raise RequestError(422, 'checkpoint', 'no checkpoint is "latest" '
                               'yet: name one, or run a train job')
        value = pointer['checkpoint']
    return resolve_inside(settings.work_dir, value, 'checkpoint',
                          kind='file')
