"""The browser processes under this one, from /proc: for the benchmark's memory figure, and to
end a run whose page stopped answering (``Deadline``).

    with Deadline(600, "human in chromium"):   # after 600 s the browsers are killed, and the
        run_system(...)                        # driver call waiting on them fails: a clear error,
                                               # not a benchmark waiting for ever
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

# Processes under the benchmark that are not the browser: drivers, the display, ourselves.
NOT_BROWSER = {"python", "python3", "node", "Xvfb", "geckodriver", "WebKitWebDriver", "chromedriver"}


def browser_pids(root: int | None = None, proc: Path = Path("/proc")) -> list[int]:
    """Every process under ``root`` (this one by default) that is not a driver, the display or
    Python itself: the browsers' processes, whichever engine started them."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process has gone
        pid, rest = int(text[:text.index(" ")]), text[text.rindex(")") + 2:].split()
        names[pid] = text[text.index("(") + 1:text.rindex(")")]
        children.setdefault(int(rest[1]), []).append(pid)
    found, todo = [], list(children.get(os.getpid() if root is None else root, []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        if names.get(pid) not in NOT_BROWSER:
            found.append(pid)
    return found


class DeadlineExceeded(RuntimeError):
    """A run outlasted its deadline; its browsers were killed."""


class Deadline:
    """Kills the browsers under this process (``pids()``) if the ``with`` block is still running after
    ``seconds``, so that a driver call waiting on a page that never answers fails; the block then
    ends with ``DeadlineExceeded`` naming ``what``. Seen once: human's page at 4× throttling, its
    renderer's main thread at 100 % for ten minutes while the benchmark waited on it."""

    def __init__(self, seconds: float, what: str, pids=browser_pids):
        self.seconds, self.what, self._pids = seconds, what, pids
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        for pid in self._pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass  # gone already

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, kind, error, trace) -> None:
        self._timer.cancel()
        if self.fired:
            raise DeadlineExceeded(f"{self.what}: still running after {self.seconds:g} s (a page that stopped "
                                   "answering?); its browser was stopped") from error


def once_more_if_stalled(seconds: float, what: str, stalls: list[str], run, pids=browser_pids):
    """``run()`` under a ``Deadline``; a run that outlasts it (a page that stopped answering:
    seen twice, both times human's page at 4× throttling) is taken once more, in the fresh
    browser ``run`` launches, and noted in ``stalls``, so one stalled page does not cost the
    benchmark's other results. A second stall ends with its ``DeadlineExceeded``."""
    try:
        with Deadline(seconds, what, pids):
            return run()
    except DeadlineExceeded as exc:
        stalls.append(str(exc))
        print(f"{exc}; once more, in a fresh browser", file=sys.stderr, flush=True)
    with Deadline(seconds, what, pids):
        return run()
