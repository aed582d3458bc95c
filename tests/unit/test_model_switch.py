"""Switching the emotion model while the app runs (browser/model_switch.py): pictures under way
finish on the model they started on, which is freed once they are done; a model that fails
leaves the current one in use."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from moodlens.browser._compat import js
from moodlens.browser.model_switch import ModelSwitch
from moodlens.browser.sources.photos import Photos
from moodlens.frames import Frame

from .fakejs import HAPPY, FakeEngine, FakeModel, analysis_on, install_page, load_manifest
from .helpers import run_async


@pytest.fixture
def page(monkeypatch):
    return install_page(monkeypatch)


def picture(name: str) -> Frame:
    """A picture that is one face already (a FER-2013 crop): analysed without detection."""
    return Frame(np.full((48, 48, 4), 128, np.uint8), 0.0, 0, name=name, original=(48, 48))


async def until(condition, steps: int = 100) -> None:
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


def returning(model):
    async def load():
        return model
    return load


async def running_on_wasm():
    """The analysis on wasm with fer-mini-xception in use, and oarriaga-emotion ready to switch to."""
    engine = FakeEngine()
    analysis = await analysis_on(engine, "wasm", {"wasm": 3.0})
    other = FakeModel(load_manifest("oarriaga-emotion"), engine, {"wasm": 5.0}, probabilities=HAPPY)
    return analysis, other


def test_a_switch_while_pictures_are_analysed_keeps_the_old_model_until_they_are_done(page):
    async def scenario():
        analysis, new = await running_on_wasm()
        old = analysis.emotion
        old.gate = asyncio.Event()  # the first picture waits inside the old model
        photos = Photos([], old)
        analysis.on_switch(photos.use_emotion)

        first = asyncio.ensure_future(photos.analyse_frame(picture("first.png"), cropped=True))
        await until(lambda: old.predicted == 1)
        assert await ModelSwitch(analysis, js.document).switch("oarriaga-emotion", returning(new))
        assert analysis.emotion is new and analysis.registry.loaded == [new]
        assert not old.freed, "the picture under way still holds it"

        old.gate.set()
        entry, _, faces = await first
        assert entry["model"] == "fer-mini-xception" and faces[0].emotion == "happy"
        assert old.freed, "retired once the picture that started on it was done"

        entry, _, _ = await photos.analyse_frame(picture("second.png"), cropped=True)
        assert entry["model"] == "oarriaga-emotion" and new.predicted == 1
        assert analysis.pipeline.manifest.id == "oarriaga-emotion", "the live pipeline follows"

    run_async(scenario())
    assert page.status == "Ready. Press Start camera. (TF.js wasm, BlazeFace)"
    assert page.document.getElementById("model").disabled is False


def test_an_old_model_nothing_holds_is_freed_at_once(page):
    async def scenario():
        analysis, new = await running_on_wasm()
        old = analysis.emotion
        assert await ModelSwitch(analysis, js.document).switch("oarriaga-emotion", returning(new))
        assert old.freed and not new.freed

    run_async(scenario())


def test_a_model_that_fails_leaves_the_current_one_in_use_and_says_why(page):
    async def scenario():
        analysis, _ = await running_on_wasm()
        current = analysis.emotion
        broken = FakeModel(load_manifest("oarriaga-emotion"), analysis.registry.engine, {})  # runs nowhere
        assert not await ModelSwitch(analysis, js.document).switch("oarriaga-emotion", returning(broken))
        assert analysis.emotion is current and not current.freed
        assert broken.freed, "what the failed model had built is freed"

    run_async(scenario())
    assert page.notes[-1] == ("Could not use oarriaga-emotion: Error: wasm cannot run oarriaga-emotion. "
                              "Still using fer-mini-xception.")
    assert page.status == "Ready. Press Start camera. (TF.js wasm, BlazeFace)"
    assert page.document.getElementById("model").disabled is False


def test_a_second_switch_while_one_loads_is_turned_away(page):
    async def scenario():
        analysis, new = await running_on_wasm()
        switch = ModelSwitch(analysis, js.document)
        loaded = asyncio.Event()

        async def slow():
            await loaded.wait()
            return new

        first = asyncio.ensure_future(switch.switch("oarriaga-emotion", slow))
        await until(lambda: switch.busy)
        assert page.status == "Loading oarriaga-emotion…"
        assert page.document.getElementById("model").disabled is True
        assert not await switch.switch("fer-mini-xception-tflite", returning(None))
        loaded.set()
        assert await first and analysis.emotion is new

    run_async(scenario())
