"""What a person's action leaves behind when it fails (browser/actions.py): the error said in
the status and logged, every control usable again, no progress message left, and a camera a
failed start opened let go."""

from __future__ import annotations

import asyncio

import pytest

from moodlens.browser.actions import Actions

from .fakejs import FakeCamera, FakeEngine, analysis_on, install_page
from .helpers import run_async


@pytest.fixture
def page(monkeypatch):
    return install_page(monkeypatch)


@pytest.fixture
def parts(page):
    """Actions as the app wires them: the start button, the model pickers, the photo input."""
    analysis = run_async(analysis_on(FakeEngine(), "wasm", {"wasm": 3.0}))
    view, doc = analysis.view, page.document
    actions = Actions(view, analysis)
    actions.camera = camera = FakeCamera(running=False)
    analysis.camera_running = lambda: camera.running
    busy = {"photos": False, "switch": False}
    actions.control(view.button)
    actions.control_by(view.set_models_enabled, disabled_while=lambda: busy["switch"])
    actions.control(doc.getElementById("photos"), disabled_while=lambda: busy["photos"])
    actions.ready = True
    return actions, camera, busy


def disabled(page, *ids):
    return [page.document.getElementById(i).disabled for i in ids]


async def failing(view, message="Loading the model…"):
    """An action that disables what it uses, says it is under way, then fails."""
    view.button.disabled = True
    view.set_models_enabled(False)
    view.set_state("ready", message)
    raise RuntimeError("no canvas")


def test_a_failed_action_is_said_logged_and_leaves_every_control_usable(page, parts):
    actions, camera, _ = parts
    run_async(actions.run("Analysing the pictures", failing, actions.view))
    assert page.state == "error"
    assert page.status == ("Analysing the pictures did not work: no canvas. Try again, or reload the page if it "
                           "keeps happening.")
    assert disabled(page, "start", "model", "own-model", "photos") == [False] * 4
    assert not page.document.getElementById("own-model-label").classList.contains("disabled")
    assert "Analysing the pictures failed" in page.console.errors[-1] and "RuntimeError: no canvas" in (
        page.console.errors[-1]), "the traceback goes to the console"
    assert camera.halts == 1, "a start that failed half-way lets go of the camera"


def test_a_failure_beside_a_running_camera_leaves_the_camera_running(page, parts):
    actions, camera, _ = parts
    camera.running = True
    run_async(actions.run("Switching landmarks", failing, actions.view))
    assert page.state == "running" and "Switching landmarks did not work" in page.status
    assert camera.halts == 0


def test_a_progress_message_no_task_will_finish_gives_way_to_the_idle_one(page, parts):
    actions, _, _ = parts

    async def stops_half_way():
        actions.view.set_state("ready", "Analysing picture 1 of 2…")

    run_async(actions.run("Analysing the pictures", stops_half_way))
    assert page.status == "Ready. Press Start camera. (TF.js wasm, BlazeFace)"


def test_a_progress_message_stays_while_its_action_is_under_way(page, parts):
    actions, _, _ = parts
    loaded = asyncio.Event()

    async def loading():
        actions.view.set_state("ready", "Loading the model…")
        await loaded.wait()

    async def nothing():
        pass

    async def both():
        slow = asyncio.ensure_future(actions.run("Switching the model", loading))
        await asyncio.sleep(0)  # the slow action runs up to its wait
        await actions.run("Switching landmarks", nothing)
        assert page.status == "Loading the model…", "the model is still loading"
        loaded.set()
        await slow

    run_async(both())
    assert page.status == "Ready. Press Start camera. (TF.js wasm, BlazeFace)"


def test_a_control_whose_own_task_runs_stays_disabled(page, parts):
    actions, _, busy = parts
    busy["photos"] = True
    page.document.getElementById("photos").disabled = True
    run_async(actions.run("Switching the model", failing, actions.view))
    assert disabled(page, "start", "model", "photos") == [False, False, True]


def test_before_start_up_has_finished_the_controls_are_left_as_they_are(page, parts):
    actions, _, _ = parts
    actions.ready = False
    run_async(actions.run("Starting the camera", failing, actions.view))
    assert disabled(page, "start", "model") == [True, True] and page.state == "error"
