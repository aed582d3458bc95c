"""End-to-end fixtures: the built dist/ served on 127.0.0.1, headless Chromium (launched by
``moodlens_tools.engines``, as the other engines, the tools and the benchmark are) with a fake
camera playing y4m videos made from real photos, and a recorder of every request."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from moodlens_build.paths import DIST
from moodlens_build.serve import serve_in_thread
from moodlens_build.site import build
from moodlens_tools import engines

from . import media

ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test in Firefox or WebKit reports the end of the browser's own output beside
    its traceback (and in tests/.artifacts/engines/TEST-PHASE.log): where a crash of the engine
    itself says what happened."""
    report = yield
    engine = getattr(item, "funcargs", {}).get("engine")
    if report.failed and getattr(engine, "log", None) is not None:
        tail = engine.log_tail()
        report.sections.append((f"{engine.label}: the end of its own output", tail))
        # Kept too where a rerun's report is not printed (pytest_rerunfailures: an engine's crash).
        (ARTIFACTS / "engines").mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "engines" / f"{item.name}-{report.when}.log").write_text(tail)
    return report


VIDEOS = {
    "one_face": media.one_face_video,
    "no_face": media.no_face_video,
    "group": media.group_video,
    "coming_and_going": media.coming_and_going_video,
}


@pytest.fixture(scope="session")
def dist() -> Path:
    """dist/, assembled first if it is not there (`python3 build.py test` assembles it)."""
    if not (DIST / "index.html").exists():
        build()
    return DIST


@pytest.fixture(scope="session")
def site(dist):
    server, base = serve_in_thread(dist)
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
def chromium(playwright, video_files):
    """The session's Chromium (one browser per set of launch flags, started on first use); its
    fake camera plays the one-face video unless a page asks for another."""
    try:
        engine = engines.Chromium(face_video=video_files["one_face"], playwright=playwright)
    except engines.EngineMissing as exc:
        pytest.fail(f"{exc}: run the tests with `python3 build.py test`, or set MOODLENS_CHROMIUM")
    yield engine
    engine.close()


def _camera(video_files, video: str | None) -> dict:
    """Launch options for a fake camera playing ``video`` (None: no camera at all)."""
    return {"camera": "face", "face_video": video_files[video]} if video else {"camera": "none"}


@pytest.fixture(scope="session")
def browsers(chromium, video_files):
    """``get("one_face")``: the Playwright browser whose fake camera plays that video, permission
    granted; ``get(None, flags)``: one with only ``flags`` (no camera, or fake devices of its own)."""
    return lambda video="one_face", flags=(): chromium.browser(**_camera(video_files, video), flags=tuple(flags))


class AppPage(engines.ChromiumPage):
    """One page of the app in Chromium, with what it requested and logged. The waits and the
    app's signals (``wait_state``, ``wait_frames``, ``wait_result``, ``state``, ``status``,
    ``results``, ``press_start``) are every engine's (``engines.Page``); Playwright's own powers
    (routes, init scripts, CDP) are at ``page`` and ``context``."""

    def __init__(self, engine, context, page, base: str):
        super().__init__(engine, context, page)
        self.base = base
        self.requests: list[str] = []  # the page's own requests
        self.worker_requests: list[str] = []  # its service worker's (the offline cache filling)
        self.console_errors: list[str] = []
        context.on("request", lambda r: (self.worker_requests if r.service_worker else self.requests).append(r.url))
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def worker(self):
        """The app's worker (Python, NumPy, TF.js), where a script reaches what the app runs on
        (``worker().evaluate(...)``); page.js starts it from the page's <head>."""
        return self.page.wait_for_event("worker") if not self.page.workers else self.page.workers[0]

    def foreign_requests(self) -> list[str]:
        return engines.foreign(self.requests + self.worker_requests, self.base)

    def screenshot(self, name: str, **kwargs) -> bytes:
        """A screenshot saved as tests/.artifacts/``name``; ``kwargs`` are Playwright's (full_page)."""
        ARTIFACTS.mkdir(exist_ok=True)
        return self.page.screenshot(path=str(ARTIFACTS / name), **kwargs)


def worker_prelude(script: str) -> tuple:
    """A route that runs ``script`` in the app's worker before worker.js (a worker has no
    init scripts): for tests that change what the worker's browser APIs do."""
    def prepend(route):
        response = route.fetch()
        route.fulfill(response=response, body=script + "\n" + response.text())
    return ("**/worker.js", prepend)


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
def open_app(chromium, video_files, site):
    opened = []

    def _open(query: str = "?autostart=1", video: str | None = "one_face", viewport=(1280, 800), flags=(),
              base: str | None = None, init_script: str | None = None, routes=(),
              service_workers: str = "allow") -> AppPage:
        context = chromium.new_context(size=viewport, flags=tuple(flags), service_workers=service_workers,
                                       **_camera(video_files, video))
        app = AppPage(chromium, context, context.new_page(), base or site)
        opened.append(app)
        if init_script:
            app.page.add_init_script(init_script)
        for pattern, handler in routes:
            app.page.route(pattern, handler)
        app.goto(f"{app.base}index.html{query}")
        return app

    yield _open
    for app in opened:
        app.close()
    # Every page of every test: nothing may leave the page's origin.
    for app in opened:
        assert app.foreign_requests() == [], f"requests left the origin: {app.foreign_requests()}"
