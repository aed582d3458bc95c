"""End-to-end fixtures: the built dist/ served on 127.0.0.1, headless Chromium with a fake
camera playing y4m videos made from real photos, and a recorder of every request."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from moodlens_build.paths import DIST
from moodlens_build.serve import serve_in_thread
from moodlens_build.site import build
from moodlens_tools.engines import CHROMIUM_FLAGS, find_chromium

from . import media

ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts"
FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
VIDEOS = {
    "one_face": media.one_face_video,
    "no_face": media.no_face_video,
    "group": media.group_video,
    "coming_and_going": media.coming_and_going_video,
}


@pytest.fixture(scope="session")
def site():
    if not (DIST / "index.html").exists():
        build()
    server, base = serve_in_thread(DIST)
    yield base
    server.shutdown()


@pytest.fixture(scope="session")
def video_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return {name: make(folder / f"{name}.y4m") for name, make in VIDEOS.items()}


@pytest.fixture(scope="session")
def playwright():
    """One sync Playwright for the session (a thread may run only one)."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browsers(video_files, playwright):
    """One Chromium per set of launch flags (the fake camera's video is one), started on first use.

    ``get("one_face")`` has a fake camera playing that video with permission granted;
    ``get(None, flags)`` has only ``flags`` (say, no camera at all, or fake devices of its own).
    """
    executable = os.environ.get("MOODLENS_CHROMIUM") or find_chromium()
    assert executable, "Chromium not found: run the tests with `python3 build.py test`, or set MOODLENS_CHROMIUM"
    launched = {}

    def get(video: str | None = "one_face", flags: tuple[str, ...] = ()):
        key = (video, flags)
        if key not in launched:
            camera = FAKE_CAMERA + [f"--use-file-for-fake-video-capture={video_files[video]}"] if video else []
            args = CHROMIUM_FLAGS + camera + list(flags)
            launched[key] = playwright.chromium.launch(executable_path=executable, args=args)
        return launched[key]

    yield get
    for browser in launched.values():
        browser.close()


class AppPage:
    """One page of the app, with what it requested and logged."""

    def __init__(self, context, page, base: str):
        self.context, self.page, self.base = context, page, base
        self.requests: list[str] = []  # the page's own requests
        self.worker_requests: list[str] = []  # its service worker's (the offline cache filling)
        self.console_errors: list[str] = []
        context.on("request", lambda r: (self.worker_requests if r.service_worker else self.requests).append(r.url))
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base)
        return f"{parts.scheme}://{parts.netloc}"

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests + self.worker_requests
                if not (u.startswith(self.origin + "/") or u.startswith(("data:", "blob:")))]

    def state(self) -> str:
        return self.page.evaluate("document.body.dataset.state")

    def status(self) -> str:
        return self.page.inner_text("#status")

    def results(self) -> dict:
        return json.loads(self.page.text_content("#results") or "{}")

    def wait_state(self, state: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.state()
            if current == state:
                return
            if current == "error" and state != "error":
                raise AssertionError(f"app went to error: {self.status()}")
            time.sleep(0.1)
        raise AssertionError(f"state stayed {self.state()!r} (status: {self.status()!r}), wanted {state!r}")

    def press_start(self) -> None:
        """Click Start camera from an error state and wait for the app to act on it."""
        before = self.status()
        self.page.click("#start")
        deadline = time.monotonic() + 10
        while self.state() == "error" and self.status() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        while self.status() == "Starting the camera…" and time.monotonic() < deadline:
            time.sleep(0.05)

    def wait_frames(self, n: int, timeout: float = 60.0) -> dict:
        """Wait until #results reports inference number ``n`` or later; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.results()
            if result.get("frame", 0) >= n:
                return result
            if self.state() == "error":
                raise AssertionError(f"app went to error: {self.status()}")
            time.sleep(0.05)
        raise AssertionError(f"only {self.results().get('frame', 0)} inferences in {timeout}s, wanted {n}")

    def screenshot(self, name: str, **kwargs) -> bytes:
        ARTIFACTS.mkdir(exist_ok=True)
        return self.page.screenshot(path=str(ARTIFACTS / name), **kwargs)


class HeldRoute:
    """A route handler that keeps its requests waiting until ``release()``, then answers them,
    and any later ones, with ``answer(route)`` (default: the real response). For tests whose
    clicks must land before a file arrives."""

    def __init__(self, answer=lambda route: route.continue_()):
        self.answer = answer
        self.held: list | None = []

    def __call__(self, route):
        if self.held is None:
            self.answer(route)
        else:
            self.held.append(route)

    def release(self):
        held, self.held = self.held, None
        for route in held:
            self.answer(route)


@pytest.fixture
def open_app(browsers, site):
    opened = []

    def _open(query: str = "?autostart=1", video: str | None = "one_face", viewport=(1280, 800), flags=(),
              base: str | None = None, init_script: str | None = None, routes=()) -> AppPage:
        context = browsers(video, tuple(flags)).new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = context.new_page()
        app = AppPage(context, page, base or site)
        opened.append(app)
        if init_script:
            page.add_init_script(init_script)
        for pattern, handler in routes:
            page.route(pattern, handler)
        page.goto(f"{app.base}index.html{query}")
        return app

    yield _open
    for app in opened:
        app.context.close()
    # Every page of every test: nothing may leave the page's origin.
    for app in opened:
        assert app.foreign_requests() == [], f"requests left the origin: {app.foreign_requests()}"
