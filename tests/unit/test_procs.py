"""The browser processes under the benchmark (moodlens_tools.procs): which ones count, and that a
run past its deadline has them stopped and says so instead of waiting for ever."""

import subprocess
import time

import pytest

from moodlens_tools import procs


def fake_proc(tmp_path, tree):
    """A /proc with a stat file per process: ``tree`` is {pid: (name, parent pid)}."""
    for pid, (name, parent) in tree.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({name}) S {parent} {pid} {pid} 0 -1 4194560 0 0 0 0")
    return tmp_path


def test_the_browsers_under_a_process_are_found_whatever_starts_them(tmp_path):
    proc = fake_proc(tmp_path, {
        100: ("python3", 1),                         # the benchmark
        101: ("python3", 100),                       # a helper of its own: not a browser
        102: ("chromium", 100), 103: ("chromium", 102),
        104: ("node", 100), 105: ("chromium", 104),  # Playwright's driver starts Chromium
        106: ("WebKitWebDriver", 100), 107: ("WebKitWebProces", 106),
        200: ("chromium", 1),                        # another's browser
    })
    assert sorted(procs.browser_pids(100, proc)) == [102, 103, 105, 107]


# The tests name the process to stop: the session's own browsers, under this process too, are not.
def test_a_run_past_its_deadline_stops_the_browser_and_says_so():
    child = subprocess.Popen(["sleep", "60"])  # stands in for a browser whose page never answers
    try:
        with pytest.raises(procs.DeadlineExceeded, match="the stuck run: still running after 0.3 s"):
            with procs.Deadline(0.3, "the stuck run", pids=lambda: [child.pid]):
                child.wait(timeout=20)  # the driver's call, waiting on the browser
        assert child.returncode == -9
    finally:
        child.kill()


def test_a_run_within_its_deadline_is_left_alone():
    child = subprocess.Popen(["sleep", "60"])
    try:
        with procs.Deadline(5, "a quick run", pids=lambda: [child.pid]):
            time.sleep(0.1)
        time.sleep(0.2)
        assert child.poll() is None, "the browser was stopped"
    finally:
        child.kill()


def test_a_stalled_run_is_taken_once_more_and_noted():
    children, stalls = [], []

    def run():  # the first "browser" never answers; the second does
        children.append(subprocess.Popen(["sleep", "60"] if not children else ["true"]))
        return children[-1].wait(timeout=20)

    try:
        assert procs.once_more_if_stalled(0.3, "the stuck run", stalls, run,
                                          pids=lambda: [children[-1].pid]) == 0
        assert [c.returncode for c in children] == [-9, 0]
        assert stalls == ["the stuck run: still running after 0.3 s (a page that stopped answering?); "
                          "its browser was stopped"]
    finally:
        for child in children:
            child.kill()


def test_a_run_that_stalls_twice_ends_with_its_error():
    children, stalls = [], []

    def run():
        children.append(subprocess.Popen(["sleep", "60"]))
        return children[-1].wait(timeout=20)

    try:
        with pytest.raises(procs.DeadlineExceeded, match="the stuck run"):
            procs.once_more_if_stalled(0.3, "the stuck run", stalls, run, pids=lambda: [children[-1].pid])
        assert len(children) == 2 and len(stalls) == 1
    finally:
        for child in children:
            child.kill()
