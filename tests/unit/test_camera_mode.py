"""The live camera's end of the start (moodlens.browser.camera_mode): the service worker's
download waits for the descriptor model the first result sets loading."""

import asyncio

from moodlens.browser import camera_mode
from moodlens.browser.camera_mode import CameraMode


class View:
    def __init__(self):
        self.started = 0

    def start_done(self):
        self.started += 1


class Analysis:
    """ensure_people() waits until ``loaded`` is set, as the real one waits for the model."""

    def __init__(self):
        self.view = View()
        self.loaded = asyncio.Event()
        self.load = None

    async def ensure_people(self):
        if self.load is None:
            self.load = asyncio.ensure_future(self.loaded.wait())
        await self.load


class Source:
    def on_ended(self, listener):
        pass


def test_the_start_is_over_once_the_descriptor_model_is_in():
    async def run():
        analysis = Analysis()
        camera = CameraMode(analysis, Source(), live=None, diagnostics=None)
        closing = asyncio.ensure_future(camera._start_over())
        for _ in range(5):
            await asyncio.sleep(0)
        assert analysis.view.started == 0  # the model is still loading: no service worker yet
        analysis.loaded.set()
        await closing
        assert analysis.view.started == 1

    asyncio.run(run())


def test_a_stalled_descriptor_model_ends_the_start_anyway_and_goes_on_loading(monkeypatch):
    monkeypatch.setattr(camera_mode, "PEOPLE_WAIT_S", 0.01)

    async def run():
        analysis = Analysis()
        camera = CameraMode(analysis, Source(), live=None, diagnostics=None)
        await camera._start_over()
        assert analysis.view.started == 1
        assert not analysis.load.cancelled()  # the wait gave up, not the model's download
        analysis.loaded.set()
        await analysis.load

    asyncio.run(run())
