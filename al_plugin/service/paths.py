"""Every path a request names must stay inside a folder the service was
given (``--data-root``, ``--work-dir``, ``--config-dir``).

A request's path is relative to its folder. Refused, with the field named:
an absolute path, a ``..`` component (also URL-encoded, once or more:
``%2e%2e``, ``%252e%252e``), a backslash-separated one, a NUL byte, and a
path that leaves the folder through a symbolic link (the real path is
checked, so a link to ``/etc`` inside the data root does not open it).
"""
import os.path as osp
from typing import Optional
from urllib.parse import unquote


class PathRefused(ValueError):
    """A request's path leads out of its folder (HTTP 403).

    Attributes:
        field (str): The request field, e.g. ``'images'``.
        value (str): The path as given.
    """

    def __init__(self, field: str, value: str, why: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f'{field}: {value!r} {why}')


def decoded(value: str) -> str:
    """``value`` with URL-encoding undone until it no longer changes (at
    most 4 rounds: ``%252e`` is ``%2e`` is ``.``)."""
    for _ in range(4):
        plain = unquote(value)
        if plain == value:
            break
        value = plain
    return value


def resolve_inside(root: str, value: str, field: str,
                   must_exist: bool = True,
                   kind: Optional[str] = None) -> str:
    """The real absolute path of ``value`` under ``root``.

    Args:
        root (str): The folder the path must stay in.
        value (str): The path relative to ``root``, as the request gave it.
        field (str): The request field (named by the error).
        must_exist (bool): Refuse a path that does not exist (404-like,
            raised as ``FileNotFoundError``). Defaults to True.
        kind (str, optional): ``'file'`` or ``'dir'``: what it must be.

    Returns:
        str: The real path (symbolic links resolved), inside ``root``.

    Raises:
        PathRefused: It is absolute, has a ``..`` component (plain or
            encoded), a backslash or NUL, or resolves outside ``root``.
        FileNotFoundError: It does not exist (``must_exist``) or is not of
            ``kind``.
    """
    if not isinstance(value, str) or not value.strip():
        raise PathRefused(field, str(value), 'is not a path')
    plain = decoded(value)
    if '\x00' in plain:
        raise PathRefused(field, value, 'holds a NUL byte')
    if '\\' in plain:
        raise PathRefused(field, value, 'holds a backslash')
    if osp.isabs(plain) or plain.startswith('~'):
        raise PathRefused(field, value, 'is absolute: give a path relative '
                          'to the service\'s folder')
    if '..' in plain.split('/'):
        raise PathRefused(field, value, 'has a ".." component')
    real_root = osp.realpath(root)
    path = osp.realpath(osp.join(real_root, plain))
    if osp.commonpath([real_root, path]) != real_root:
        raise PathRefused(field, value, 'leads out of the service\'s folder '
                          '(a symbolic link)')
    if must_exist and not osp.exists(path):
        raise FileNotFoundError(f'{field}: {value!r} does not exist')
    if kind == 'file' and must_exist and not osp.isfile(path):
        raise FileNotFoundError(f'{field}: {value!r} is not a file')
    if kind == 'dir' and must_exist and not osp.isdir(path):
        raise FileNotFoundError(f'{field}: {value!r} is not a folder')
    return path
