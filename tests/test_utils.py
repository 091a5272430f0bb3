"""Atomic writes: all or nothing, with the permissions open() gives."""
import json
import os

import pytest

from al_plugin.utils import atomic_open, atomic_write_json


def test_atomic_write_json_mode_and_content(tmp_path):
    path = tmp_path / 'results.json'
    atomic_write_json(str(path), [1, 2])
    assert json.loads(path.read_text()) == [1, 2]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / 'x.txt'
    path.write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_open(str(path)) as f:
            f.write('new')
            raise RuntimeError('disk full')
    assert path.read_text() == 'old'
    assert os.listdir(tmp_path) == ['x.txt']
