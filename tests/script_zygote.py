"""Run a repository script as ``python SCRIPT ARGS...`` would, in a process
forked from one that has already imported the script's own top-level
modules (a "zygote").

Most of a tiny ``tools/train.py`` run is Python importing torch, mmengine
and mmdet (about 7 of its 14 CPU seconds). The zygote pays that once per
pytest process: it runs the script's top level once under another
``__name__`` (its imports and definitions, not ``main()``), then forks one
child per run. The child sets up what a new interpreter would have (working
dir, environment, ``sys.argv``, ``sys.path``, stdin from /dev/null, stdout
and stderr to files) and runs the script as ``__main__``; it leaves through
the interpreter's normal exit (uncaught exception: traceback and status 1,
``SystemExit``: its code, a signal: -signal), so the caller gets the
``CompletedProcess`` a ``subprocess.run`` would give.

Nothing but the script's own top-level imports is loaded before the child
runs, so a module the script forgets to import is missing in the child as
in a fresh interpreter.

Parent side: :class:`ScriptZygote`. Child side: ``python script_zygote.py
SCRIPT`` reads one JSON request a line on stdin and answers two lines on
stdout (the child's pid, then its exit status).
"""
import gc
import json
import os
import os.path as osp
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import threading


class ScriptZygote:
    """A zygote process for one script, started with ``env`` in ``cwd``.

    Args:
        script (str): The script, as the command line names it (e.g.
            ``'tools/train.py'``, relative to ``cwd``).
        cwd (str): Working directory of the zygote.
        env (dict): Its environment; :meth:`run` takes only requests with
            the same environment (the imports may have read it).
    """

    def __init__(self, script: str, cwd: str, env: dict) -> None:
        self.script, self.cwd, self.env = script, cwd, dict(env)
        self._lock = threading.Lock()
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, osp.abspath(__file__), script],
            cwd=cwd, env=self.env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._log,
            bufsize=0)  # unbuffered answers: select() sees every line

    def alive(self) -> bool:
        return self._proc.poll() is None

    def accepts(self, script: str, cwd: str, env: dict) -> bool:
        return (self.alive() and script == self.script and cwd == self.cwd
                and env == self.env)

    def close(self) -> None:
        """End the zygote (it exits when its stdin closes)."""
        if not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Kill the zygote now (not a running child)."""
        self._proc.kill()
        self._proc.wait()

    def log(self) -> str:
        """What the zygote itself wrote to stderr (import errors)."""
        self._log.seek(0)
        return self._log.read().decode(errors='replace')

    def _read_line(self, timeout=None):
        """One answer line as JSON; None at the zygote's end or when
        ``timeout`` seconds passed."""
        out = self._proc.stdout
        if timeout is not None:
            ready, _, _ = select.select([out], [], [], max(timeout, 0))
            if not ready:
                return None
        line = out.readline()
        return json.loads(line) if line else None

    def run(self, args, timeout=None):
        """Run ``SCRIPT *args`` in a forked child.

        Returns:
            subprocess.CompletedProcess | None: As ``subprocess.run(...,
            capture_output=True, text=True)`` returns it; None when the
            zygote has died (the caller runs the script afresh).

        Raises:
            subprocess.TimeoutExpired: After ``timeout`` seconds; the child
                is killed first.
        """
        cmd = [sys.executable, self.script] + [str(a) for a in args]
        with self._lock, tempfile.TemporaryDirectory() as tmp:
            paths = dict(stdout=osp.join(tmp, 'stdout'),
                         stderr=osp.join(tmp, 'stderr'))
            request = dict(args=cmd[2:], **paths)
            try:
                self._proc.stdin.write((json.dumps(request) + '\n').encode())
                self._proc.stdin.flush()
                # the pid comes once the zygote has imported (first use)
                started = self._read_line(timeout)
                if started is None:
                    self.kill()
                    return None
                answer = self._read_line(timeout)
                if answer is None and self.alive():
                    os.kill(started['pid'], signal.SIGKILL)
                    self._read_line()
                    raise subprocess.TimeoutExpired(
                        cmd, timeout, output=_read(paths['stdout']),
                        stderr=_read(paths['stderr']))
            except (BrokenPipeError, ValueError):  # the zygote has died
                return None
            except BaseException:
                if not isinstance(sys.exc_info()[1],
                                  subprocess.TimeoutExpired):
                    self.kill()  # interrupted: its answers are out of step
                raise
            if answer is None:
                return None
            return subprocess.CompletedProcess(
                cmd, answer['returncode'], _read(paths['stdout']),
                _read(paths['stderr']))


def _read(path):
    """A child's output as ``subprocess.run(text=True)`` decodes it."""
    if not osp.exists(path):
        return ''
    with open(path) as f:  # locale encoding, universal newlines
        return f.read()


def _serve(script):
    """The zygote: import the script's top level, then fork a child for
    every request; returns only in a child, with its request."""
    # what `python SCRIPT` puts first on sys.path
    sys.path[0] = osp.dirname(osp.abspath(script))
    base_path = list(sys.path)
    runpy.run_path(script, run_name='__zygote__')
    # the imported objects out of the collector's sight: a child's
    # collections then copy none of their pages (copy-on-write)
    gc.freeze()
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(sys.stdout.fileno()), 'w')
    while True:
        line = requests.readline()
        if not line:
            sys.exit(0)
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            answers.close()
            sys.path[:] = base_path
            return request
        answers.write(json.dumps(dict(pid=pid)) + '\n')
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(
            json.dumps(dict(returncode=os.waitstatus_to_exitcode(status))) +
            '\n')
        answers.flush()


def _become(script, request):
    """In the child: the process state ``python SCRIPT ARGS`` starts with,
    then the script as ``__main__``."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    for fd, name in ((1, 'stdout'), (2, 'stderr')):
        out = os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                      0o600)
        os.dup2(out, fd)
        os.close(out)
    sys.argv = [script] + request['args']
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    _script = sys.argv[1]
    _become(_script, _serve(_script))
