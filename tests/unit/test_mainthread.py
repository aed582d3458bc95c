"""The benchmark's main-thread figures (moodlens_tools.mainthread) from recorded probe data."""

import pytest

from moodlens_tools import mainthread


def data(**kw):
    base = {"frames": [], "longtasks": None, "beats": [], "inputs": [], "heartbeat": "running", "heartbeat_ms": 10}
    return {**base, **kw}


def beats_with_block(start, length, until=1000.0, every=10.0):
    """Heartbeat messages every 10 ms, each run 0.5 ms after it was sent, except those sent
    while the main thread is blocked from ``start`` for ``length`` ms: run when it ends."""
    out, t = [], 0.0
    while t < until:
        end = start + length if start <= t < start + length else t + 0.5
        out.append([t, end])
        t += every
    return out


def test_heartbeat_finds_a_block_as_one_long_task_and_its_length_within_a_period():
    figures = mainthread.figures(data(beats=beats_with_block(203, 180)), 0, 1000)
    assert figures["tasks_from"] == "heartbeat"
    assert figures["long_tasks"] == 1
    assert 170 <= figures["longest_task_ms"] <= 180  # a lower bound, short by under one period
    assert figures["blocked_share"] == pytest.approx(figures["longest_task_ms"] / 1000, abs=0.001)
    assert figures["input_from"] == "heartbeat"
    assert figures["input_delay_p95_ms"] > 50  # 18 of 100 messages waited in the block


def test_short_tasks_are_not_long_ones():
    figures = mainthread.figures(data(beats=beats_with_block(200, 40)), 0, 1000)
    assert figures["long_tasks"] == 0 and figures["longest_task_ms"] is None and figures["blocked_share"] == 0
    assert figures["heartbeat"]["longest_stretch_ms"] == pytest.approx(40, abs=10)


def test_the_long_tasks_api_wins_where_there_is_one_and_is_clipped_to_the_window():
    tasks = [[-100.0, 150.0], [300.0, 40.0], [500.0, 120.0], [950.0, 200.0]]
    figures = mainthread.figures(data(longtasks=tasks, beats=beats_with_block(500, 120)), 0, 1000)
    assert figures["tasks_from"] == "Long Tasks API"
    assert figures["long_tasks"] == 3  # the 40 ms entry is not over 50 ms
    assert figures["longest_task_ms"] == 200
    assert figures["tasks"] == [[-100.0, 150.0], [500.0, 120.0], [950.0, 200.0]]  # from the window's start
    assert figures["blocked_share"] == pytest.approx((50 + 120 + 50) / 1000)
    assert figures["heartbeat"]["long_tasks"] == 1  # kept beside it


def test_frame_interval_p95_and_real_input_delay():
    frames = [i * 16.7 for i in range(40)] + [40 * 16.7 + 200]
    origin = 1_700_000_000_000.0
    # Ten clicks sent 100 ms apart at points (1200 + i, 1); the sixth waited 300 ms, the others 2.
    sent = {(1200 + i, 1): [origin + 100.0 * i] for i in range(10)}
    sent[(1200, 1)].insert(0, origin - 24_000.0)  # the same point 24 s earlier: not this click
    inputs = [["pointerdown", 0.0, 100.0 * i + (300 if i == 5 else 2), 1200 + i, 1] for i in range(10)]
    inputs.append(["keydown", 50.0, 900.0, 0, 0])  # only clicks count
    inputs.append(["pointerdown", 50.0, 950.0, 5, 5])  # a click the benchmark did not send
    base = data(frames=frames, inputs=inputs, time_origin=origin)
    figures = mainthread.figures(base, 0, 1000, sent)
    assert figures["frames"] == 41
    assert figures["frame_interval_p95_ms"] == pytest.approx(16.7)
    assert figures["input_from"] == "CDP clicks" and figures["inputs"] == 10
    assert figures["input_delay_p95_ms"] == 2  # rank 0.95 × 9 = 8: one slow click in ten is not the p95
    assert max(mainthread.click_delays(inputs, origin, sent)) == 300
    figures = mainthread.figures({**base, "frames": frames[::2]}, 0, 1000, sent)
    assert figures["frame_interval_p95_ms"] == pytest.approx(33.4)
    assert mainthread.p95([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 300]) == 19
    # Without clicks sent, the heartbeat stands in (none here).
    assert mainthread.figures(base, 0, 1000)["input_from"] is None


def test_no_heartbeat_and_no_api_give_no_task_figures():
    figures = mainthread.figures(data(heartbeat="unavailable: SecurityError"), 0, 1000)
    assert figures["long_tasks"] is None and figures["input_delay_p95_ms"] is None
    assert figures["heartbeat"] == "unavailable: SecurityError"


def test_merged_spans():
    assert mainthread.merged_spans([(5, 8), (0, 3), (2, 4), (8, 9)]) == [(0, 4), (5, 9)]


def test_the_window_holds_the_tasks_that_overlap_it_and_its_own_clicks_only():
    tasks = [[0.0, 90.0], [120.0, 60.0], [990.0, 80.0], [1200.0, 300.0]]
    origin = 1_700_000_000_000.0
    sent = {(1200, 1): [origin + 50.0], (1201, 1): [origin + 500.0]}
    inputs = [["pointerdown", 0.0, 95.0, 1200, 1], ["pointerdown", 0.0, 504.0, 1201, 1]]
    figures = mainthread.figures(data(longtasks=tasks, inputs=inputs, time_origin=origin), 100, 1000, sent)
    assert figures["tasks"] == [[20.0, 60.0], [890.0, 80.0]]  # the first ended before, the last began after
    assert figures["inputs"] == 1 and figures["input_delay_p95_ms"] == 4  # the one before waited 45


def test_the_boot_starts_at_the_first_paint_else_the_first_contentful_one_else_the_first_frame():
    painted = data(first_frame=80.0, paint=[["first-paint", 120.0], ["first-contentful-paint", 200.0]])
    assert mainthread.boot_start(painted) == (120.0, "first-paint")
    contentful = data(first_frame=80.0, paint=[["first-contentful-paint", 200.0]])
    assert mainthread.boot_start(contentful) == (200.0, "first-contentful-paint")
    assert mainthread.boot_start(data(first_frame=80.0, paint=[])) == (80.0, "first animation frame")
    assert mainthread.boot_start(data(first_frame=None, paint=[])) == (None, None)
