"""The runner: any frame source through an analysis step to the sinks."""

from __future__ import annotations

import numpy as np

from moodlens.frames import ArrayFrames, Frame, every_nth
from moodlens.runner import Runner

from .helpers import run_async


class Collect:
    def __init__(self):
        self.seen = []

    def result(self, frame, result):
        self.seen.append((frame.index, result))


def frames(n):
    return [np.full((2, 2, 4), i, np.uint8) for i in range(n)]


def run(runner):
    return run_async(runner.run())


def test_every_frame_goes_through_the_step_to_every_sink():
    source, a, b = ArrayFrames(frames(4)), Collect(), Collect()
    run_async(source.open())

    async def analyse(frame):
        return int(frame.pixels[0, 0, 0]) * 10

    report = run(Runner(source, analyse, [a, b], clock=iter(range(100)).__next__))
    assert a.seen == b.seen == [(0, 0), (1, 10), (2, 20), (3, 30)]
    assert (report.frames, report.analysed, report.cancelled, report.error) == (4, 4, False, None)
    assert report.seconds == 1
    assert source.closed is False  # the caller owns the source


def test_cancel_stops_between_frames_and_keeps_what_was_analysed():
    sink = Collect()
    runner = None

    async def analyse(frame):
        if frame.index == 1:
            runner.cancel()
        return frame.index

    runner = Runner(ArrayFrames(frames(5)), analyse, [sink])
    report = run(runner)
    assert sink.seen == [(0, 0), (1, 1)]
    assert report.cancelled and report.analysed == 2


def test_one_failure_is_reported_and_the_loop_goes_on_but_not_forever():
    errors, sink = [], Collect()

    async def flaky(frame):
        if frame.index == 1:
            raise RuntimeError("bad frame")
        return frame.index

    report = run(Runner(ArrayFrames(frames(3)), flaky, [sink], on_error=errors.append))
    assert [i for i, _ in sink.seen] == [0, 2] and len(errors) == 1 and report.error is None

    async def broken(frame):
        raise RuntimeError("model gone")

    report = run(Runner(ArrayFrames(frames(10)), broken, [sink], max_errors=3))
    assert report.error == "model gone" and report.frames == 3 and report.analysed == 0


def test_unreadable_frames_reach_the_sinks_without_analysis_and_none_results_are_dropped():
    class Photos(ArrayFrames):
        async def frames(self):
            yield Frame(None, 0, 0, name="notes.txt", error="not a picture")
            yield Frame(np.zeros((2, 2, 4), np.uint8), 0, 1, name="face.jpg")
            yield Frame(np.zeros((2, 2, 4), np.uint8), 0, 2, name="skip.jpg")

    sink = Collect()

    async def analyse(frame):
        return None if frame.name == "skip.jpg" else "faces"

    report = run(Runner(Photos([]), analyse, [sink]))
    assert sink.seen == [(0, None), (1, "faces")]
    assert report.analysed == 1 and report.frames == 3


def test_a_source_left_early_is_closed():
    closed = []

    class Source(ArrayFrames):
        async def frames(self):
            try:
                for i in range(100):
                    yield Frame(np.zeros((1, 1, 4), np.uint8), i, i)
            finally:
                closed.append(True)

    runner = None

    async def analyse(frame):
        runner.cancel()
        return 1

    runner = Runner(Source([]), analyse, [])
    run(runner)
    assert closed == [True]


def test_every_nth_and_a_target_rate_pick_frames_by_number_and_by_time():
    assert [i for i in range(10) if every_nth(i, every=4)] == [0, 4, 8]
    picked, last = [], None
    for i in range(30):  # a 30 fps video analysed at 12 per second
        t = i * 1000 / 30
        if every_nth(i, target_fps=12, time_ms=t, last_ms=last):
            picked.append(i)
            last = t
    assert len(picked) == 12 and picked[:4] == [0, 3, 5, 8]
