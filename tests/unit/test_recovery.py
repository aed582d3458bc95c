"""Recovery when the analysis stalls or the backend fails (browser/recovery.py): the watchdog
restarts a stalled loop once, then moves the models to another backend; with none left, the
camera stops and the status says why."""

from __future__ import annotations

import asyncio

import pytest

from moodlens.browser.recovery import MOVE_BACKEND, RESTART_LOOP, WATCHDOG_MS, Recovery, Watchdog

from .fakejs import FakeCamera, FakeEngine, analysis_on, install_page
from .helpers import run_async


@pytest.fixture
def page(monkeypatch):
    return install_page(monkeypatch)


def test_a_stalled_loop_is_restarted_once_then_the_backend_is_moved():
    watchdog = Watchdog()
    watchdog.result(0.0)
    assert watchdog.check(WATCHDOG_MS - 1, watching=True) is None
    first = watchdog.check(WATCHDOG_MS, watching=True)
    assert first.action == RESTART_LOOP and first.seconds == 5
    assert watchdog.check(2 * WATCHDOG_MS - 1, watching=True) is None, "the restarted loop gets its own 5 s"
    assert watchdog.check(2 * WATCHDOG_MS, watching=True).action == MOVE_BACKEND
    assert watchdog.check(3 * WATCHDOG_MS, watching=True).action == RESTART_LOOP, "on the new backend: afresh"


def test_a_result_after_the_restart_means_the_next_stall_restarts_again():
    watchdog = Watchdog()
    watchdog.result(0.0)
    assert watchdog.check(WATCHDOG_MS, watching=True).action == RESTART_LOOP
    watchdog.result(WATCHDOG_MS + 100)  # the restarted loop works
    assert watchdog.check(2 * WATCHDOG_MS + 100, watching=True).action == RESTART_LOOP


def test_time_not_watched_does_not_count_as_a_stall():
    """A hidden tab, a stopped camera or a recovery under way: no results are expected."""
    watchdog = Watchdog()
    watchdog.result(0.0)
    assert watchdog.check(60_000, watching=False) is None
    assert watchdog.check(60_000 + WATCHDOG_MS - 1, watching=True) is None
    assert watchdog.check(60_000 + WATCHDOG_MS, watching=True) is not None


def recovery_on(engine, ms, camera, context_losses):
    analysis = run_async(analysis_on(engine, "webgl", ms))
    return analysis, Recovery(analysis, camera, hidden=lambda: False, on_context_lost=context_losses.append)


def test_a_stall_restarts_the_loop_and_a_second_moves_the_models_to_the_next_backend(page):
    engine, camera, context_losses = FakeEngine(), FakeCamera(), []
    analysis, recovery = recovery_on(engine, {"webgl": 1.0, "wasm": 3.0}, camera, context_losses)
    emotion = analysis.emotion
    camera.watchdog.result(page.clock.ms)

    async def stall_twice():
        page.clock.ms += WATCHDOG_MS
        assert recovery.tick() is None
        assert camera.restarts == 1 and page.notes[-1] == "No result for 5 s: the analysis loop was restarted."
        page.clock.ms += WATCHDOG_MS
        await recovery.tick()

    run_async(stall_twice())
    assert camera.replays == 1, "a video the browser paused plays again"
    assert page.notes[-1] == "No result for 5 s on TF.js webgl; continuing on TF.js wasm."
    assert engine.current == "wasm" and emotion.model.backend == "wasm", "the model rebuilt on wasm"
    assert camera.restarts == 2 and camera.halts == 0
    assert page.status == "Running: BlazeFace + fer-mini-xception on TF.js wasm." and page.state == "running"
    assert page.document.getElementById("backend").textContent == "wasm"
    assert "the webgl backend failed here" in page.document.getElementById("backend-why").textContent
    assert context_losses == [recovery.context_lost], "a new WebGL context would be watched again"
    assert not analysis.recovering


def test_a_lost_context_stops_the_analysis_at_once_and_resumes_it_on_another_backend(page):
    engine, camera = FakeEngine(), FakeCamera()
    analysis, recovery = recovery_on(engine, {"webgl": 1.0, "wasm": 3.0}, camera, [])

    async def lose():
        task = recovery.context_lost()
        assert analysis.recovering, "a frame in flight now fails quietly"
        await task

    run_async(lose())
    assert not analysis.recovering and engine.current == "wasm"
    assert page.notes[-1] == "The webgl graphics context was lost; continuing on TF.js wasm."


def test_with_no_other_backend_the_camera_stops_and_the_status_says_why(page):
    engine, camera = FakeEngine(), FakeCamera()
    analysis, recovery = recovery_on(engine, {"webgl": 1.0}, camera, [])

    async def lose():
        await asyncio.wait([recovery.context_lost()])  # the task's own callbacks (spawn's) run first

    run_async(lose())
    assert camera.halts == 1 and page.state == "error"
    assert page.status == ("The analysis stopped and no other TF.js backend works here: no TF.js backend besides "
                           "webgl can run the models. Reload the page to try again.")
    assert not analysis.recovering
    assert any("a background task failed" in e for e in page.console.errors), "the traceback is logged"


def test_a_hidden_page_or_a_recovery_under_way_is_not_a_stall(page):
    engine, camera = FakeEngine(), FakeCamera()
    analysis, _ = recovery_on(engine, {"webgl": 1.0, "wasm": 3.0}, camera, [])
    hidden = [True]
    recovery = Recovery(analysis, camera, hidden=lambda: hidden[0], on_context_lost=lambda _: None)
    camera.watchdog.result(page.clock.ms)
    page.clock.ms += 3 * WATCHDOG_MS
    assert recovery.tick() is None and camera.restarts == 0
    hidden[0], analysis.recovering = False, True
    page.clock.ms += 3 * WATCHDOG_MS
    assert recovery.tick() is None and camera.restarts == 0
