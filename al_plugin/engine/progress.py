"""Images done, rate and ETA of a long pass over images (scoring the pool,
predicting the selected images), for a terminal or a log."""
import sys
import time
from typing import Callable, Optional, TextIO


def _clock(seconds: float) -> str:
    """``h:mm:ss`` of a duration."""
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


class ScoringProgress:
    """Images scored, rate and ETA of a pool scoring pass.

    On a terminal one line is redrawn in place (at most ten times a
    second). Anywhere else (a log file, a pipe, a job's output) a whole line
    goes to ``log`` at most every ``interval`` seconds, so a log holds a few
    readable lines rather than one carriage return per batch. :meth:`close`
    ends the line and logs the total time and rate either way.

    mmengine's ``ProgressBar`` shows a rate (in batches) and an ETA, but off
    a terminal it writes every redraw into the log as ``\\r`` fragments of
    one endless line.

    Args:
        total (int): Images to score.
        desc (str): What is being done, in front of every line.
            Defaults to ``'scoring'``.
        log (callable, optional): Takes the lines off a terminal and the
            closing line, e.g. ``runner.logger.info``. Defaults to None:
            written to ``file``.
        interval (float): Seconds between lines off a terminal.
            Defaults to 30.
        file (TextIO, optional): The stream of the redrawn line, which
            also decides whether this is a terminal (``isatty()``).
            Defaults to None: ``sys.stdout``.
        bar_width (int): Width of the redrawn bar. Defaults to 30.
        listener (callable, optional): Called with :meth:`snapshot` after
            every update and at :meth:`close` (then with ``ended=True``
            added; e.g. a service job storing its progress); it decides
            itself how often to act.
    """

    def __init__(self,
                 total: int,
                 desc: str = 'scoring',
                 log: Optional[Callable[[str], None]] = None,
                 interval: float = 30.0,
                 file: Optional[TextIO] = None,
                 bar_width: int = 30,
                 listener: Optional[Callable[[dict], None]] = None) -> None:
        self.listener = listener
        self.total = max(int(total), 0)
        self.desc = desc
        self.file = sys.stdout if file is None else file
        self.log = log or self._write_line
        self.interval = interval
        self.bar_width = bar_width
        isatty = getattr(self.file, 'isatty', None)
        self.tty = bool(isatty and isatty())
        self.done = 0
        self._start = time.perf_counter()
        self._shown = self._start  # when a line was last drawn / logged
        if self.tty:
            self._draw()

    def update(self, num: int = 1) -> None:
        """Count ``num`` more images (capped at ``total``)."""
        self.done = min(self.done + num, self.total)
        now = time.perf_counter()
        if self.tty:
            if now - self._shown >= 0.1 or self.done == self.total:
                self._draw()
                self._shown = now
        elif now - self._shown >= self.interval and self.done < self.total:
            self.log(f'{self.desc}: {self.status()}')
            self._shown = now
        if self.listener is not None:
            self.listener(self.snapshot())

    def snapshot(self) -> dict:
        """``desc``, ``done``, ``total``, ``rate`` (images/s), ``elapsed``
        and ``eta`` (seconds; None before the first image) as numbers."""
        elapsed = time.perf_counter() - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        return dict(
            desc=self.desc,
            done=self.done,
            total=self.total,
            rate=rate,
            elapsed=elapsed,
            eta=(self.total - self.done) / rate if rate else None)

    def status(self) -> str:
        """``n/total images, r img/s, elapsed h:mm:ss, ETA h:mm:ss``."""
        elapsed = time.perf_counter() - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = _clock((self.total - self.done) / rate) if rate else '-:--:--'
        return (f'{self.done}/{self.total} images, {rate:.1f} img/s, '
                f'elapsed {_clock(elapsed)}, ETA {eta}')

    def close(self) -> None:
        """End the redrawn line; log the total time and rate."""
        elapsed = time.perf_counter() - self._start
        if self.tty:
            self._draw()
            self.file.write('\n')
            self.file.flush()
        rate = self.done / elapsed if elapsed > 0 else 0.0
        self.log(f'{self.desc}: {self.done} images in {_clock(elapsed)} '
                 f'({rate:.1f} img/s)')
        if self.listener is not None:
            self.listener(dict(self.snapshot(), ended=True))

    def _draw(self) -> None:
        filled = (self.bar_width * self.done //
                  self.total if self.total else self.bar_width)
        bar = '>' * filled + ' ' * (self.bar_width - filled)
        self.file.write(f'\r{self.desc}: [{bar}] {self.status()}')
        self.file.flush()

    def _write_line(self, line: str) -> None:
        self.file.write(line + '\n')
        self.file.flush()
