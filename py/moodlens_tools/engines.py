"""Three browser engines driven from Python with one small interface (CPython only, never shipped).

    with launch("firefox") as engine:             # "chromium" | "firefox" | "webkit"
        page = engine.open(url, camera="face")    # "face" | "none" | "denied"
        page.wait_state("running")                 # the app's own signals: state(), status(), results()
        page.wait("document.title !== ''")         # any condition, checked in the page until it holds
        page.run("return document.title")         # a function body; `arguments[i]` are the args
        page.set_files("#photos", [path]); page.click("#start"); page.screenshot(path)

``ensure_installed`` installs the engines (Debian packages, as root); ``launch`` starts one.

- **Chromium**: Debian's ``chromium`` through Playwright. Its camera is the file-backed fake
  device (``--use-file-for-fake-video-capture``, a y4m video of a real face); a denied camera is
  ``--use-fake-ui-for-media-stream=deny``; a missing one is no fake device at all.
- **Firefox**: Debian's ``firefox-esr`` through Marionette (``marionette-driver`` + ``mozrunner``;
  no geckodriver, which no registry carries). A denied camera is the real refusal of
  ``permissions.default.camera = 2``; a missing camera is the machine's own: none.
- **WebKit** (Safari's engine): WebKitGTK's ``MiniBrowser`` through ``WebKitWebDriver`` and
  Selenium, on an Xvfb display this module starts. A missing camera is the machine's own
  (mock capture devices off); MiniBrowser's automation has no permission control, so a denied
  camera is a test script that rejects ``getUserMedia`` with ``NotAllowedError``, as Safari's
  "Don't Allow" does.

Firefox's and WebKit's fake cameras show a test pattern, not a face, so there a face comes from
``face_camera``: a same-origin test script answers ``getUserMedia`` with a real MediaStream,
``canvas.captureStream()`` of a canvas redrawing a real photo; the video element, the frame
grab, the pipeline and the drawing stay the page's own. ``TestSite`` serves a built ``dist/``
with such scripts put into ``index.html`` (same origin, so the page's CSP allows them).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from moodlens_build.serve import Handler as SiteHandler
from moodlens_build.serve import Server as SiteServer
from moodlens_build.site import site_headers as production_headers
from moodlens_build.steps import BuildError, log, run

ENGINES = ("chromium", "firefox", "webkit")
CAMERAS = ("face", "none", "denied")
PAGE_SCRIPTS = Path(__file__).resolve().parent / "page"  # camera.js, record.js, the benchmark's
MINIBROWSER = "/usr/lib/{arch}-linux-gnu/webkit2gtk-4.1/MiniBrowser"
# Headless Chromium as the tests, the benchmark and the evaluation run it.
CHROMIUM_FLAGS = [
    "--no-sandbox",  # may run as root (CI)
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
# Chromium's camera: a fake device playing a y4m file ("face"), the permission refused
# ("denied"), or none at all ("none": this machine has no camera).
CHROMIUM_CAMERA_FLAGS = {
    "face": ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],  # + the file
    "denied": ["--use-fake-ui-for-media-stream=deny", "--use-fake-device-for-media-stream"],
    "none": [],
}
# How often a page checks a condition it is waiting for (its own timer, not the test's).
POLL_MS = 50
# Firefox: no first-run pages, telemetry, updates or remote settings (the machine has no
# internet; each would log failures and compete for the 2 cores).
FIREFOX_PREFS = {
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "services.settings.server": "data:,",
    "browser.safebrowsing.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "extensions.update.enabled": False,
    "media.autoplay.default": 0,
}


class EngineMissing(RuntimeError):
    """An engine that is not installed; the message says what to install."""


def find_chromium() -> str | None:
    for name in (os.environ.get("MOODLENS_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


def minibrowser() -> str | None:
    for arch in (os.uname().machine, "x86_64", "aarch64"):
        path = MINIBROWSER.format(arch=arch)
        if os.path.exists(path):
            return path
    return None


def missing(name: str) -> str | None:
    """None when ``name`` can run here, else what to install (Debian package names)."""
    if name == "chromium":
        return None if find_chromium() else "chromium"
    if name == "firefox":
        return None if shutil.which("firefox-esr") or shutil.which("firefox") else "firefox-esr"
    if name == "webkit":
        needs = [pkg for pkg, ok in (("webkit2gtk-driver", shutil.which("WebKitWebDriver") and minibrowser()),
                                     ("xvfb", shutil.which("Xvfb"))) if not ok]
        return " ".join(needs) or None
    raise ValueError(f"unknown engine {name!r} (choose {', '.join(ENGINES)})")


def ensure_installed(names: tuple[str, ...] = ENGINES) -> str:
    """Install the engines ``names`` (Debian's chromium, firefox-esr, webkit2gtk-driver + xvfb)
    when run as root; otherwise say what is missing. Chromium is required; an engine that cannot
    be installed makes its own tests fail with the same message. Returns Chromium's path."""
    needed = [pkg for name in names if (pkg := missing(name))]
    if needed and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing browser engines (apt-get install {' '.join(needed)})…")
        run(["apt-get", "update", "-qq"], "apt-get update")
        run(["apt-get", "install", "-y", "-qq", *" ".join(needed).split()], "browser engine install",
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    still = {name: pkg for name in names if (pkg := missing(name))}
    if "chromium" in still:
        raise BuildError("Chromium is missing. Install it (Debian/Ubuntu: `sudo apt-get install chromium`) "
                         "or point MOODLENS_CHROMIUM at a Chrome/Chromium binary, then run again.")
    for name, pkg in still.items():
        log(f"WARNING: {name} is not installed, so its tests will fail; install it with "
            f"`sudo apt-get install {pkg}` (or run the other engines: MOODLENS_ENGINES=chromium)")
    return find_chromium()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wrap_async(body: str) -> str:
    """A WebDriver async script running ``body`` (which may ``await``), its value or its error."""
    return ("const __done = arguments[arguments.length - 1];"
            f"(async () => {{ {body} }}).apply(null, Array.from(arguments).slice(0, -1))"
            ".then((v) => __done({ok: v === undefined ? null : v}),"
            # Firefox's stack names neither the error nor its message: both first, then the stack.
            " (e) => __done({error: e && e.stack ? `${e}\\n${e.stack}` : String(e)}));")


def _probe(condition: str, fail: str | None) -> str:
    """A JavaScript function (``arguments`` are the wait's args) giving ``{ok: value}`` once
    ``condition`` holds, ``{failed: true}`` once ``fail`` does, else null. While a new document
    is still loading (a reload the page made) an error is not the condition's fault: not yet."""
    return (f"function () {{ let v; try {{ v = ({condition});"
            f" if (!v && ({fail or 'false'})) return {{failed: true}}; }}"
            " catch (e) { if (document.readyState === 'loading') return null; throw e; }"
            " return v ? {ok: v} : null; }")


# A WebDriver engine's wait, in the page: the probe every POLL_MS until it answers or ``ms`` pass.
WAIT_IN_PAGE = """const [args, ms] = arguments; const probe = %s; const end = performance.now() + ms;
  for (;;) {
    const out = probe.apply(null, args);
    if (out || performance.now() >= end) return out;
    await new Promise((resolve) => setTimeout(resolve, %d));
  }"""

STATE = "document.body.dataset.state"
IN_ERROR = f"{STATE} === 'error'"
RESULTS = "document.getElementById('results').textContent"
# On the parsed #results ``r``: a face linked to its person (the descriptor model loads after the
# first emotion).
PERSON_LINKED = "r.faces && r.faces.some((f) => f.person_id != null)"
# A first visit's offline copy is in place (boot.js sets it; codecache.js runs later, once the
# camera stops, and sets body[data-compiled]).
OFFLINE = "document.body.dataset.offline !== undefined"
# What a failed wait reports: the app's state and status line (either may be missing: another page).
SIGNALS = ("const s = document.getElementById('status');"
           " return [document.body ? document.body.dataset.state || null : null, s ? s.innerText : null];")


class Page:
    """One page of one engine. Scripts are function bodies (``return …``) with ``arguments``.

    Waits happen in the page: it checks the condition itself (Playwright's ``wait_for_function``
    in Chromium, an async script in the WebDriver engines) and answers once it holds."""

    engine: Engine

    def run(self, body: str, *args):
        raise NotImplementedError

    def run_async(self, body: str, *args):
        """Run ``body`` as an async function (it may ``await``) and return its value."""
        raise NotImplementedError

    def click(self, selector: str) -> None:
        raise NotImplementedError

    def set_files(self, selector: str, paths: list[str]) -> None:
        raise NotImplementedError

    def screenshot(self, path: Path | None = None) -> bytes:
        raise NotImplementedError

    def goto(self, url: str) -> None:
        raise NotImplementedError

    def reload(self) -> None:
        self.run("location.reload()")

    def close(self) -> None:
        pass

    def _wait_in_page(self, probe: str, timeout: float, args: list) -> dict | None:
        """The probe's first answer within ``timeout`` seconds, or None."""
        raise NotImplementedError

    def wait(self, condition: str, timeout: float = 60.0, *args, fail: str | None = None):
        """Wait until ``condition`` (a JavaScript expression; ``arguments[i]`` are ``args``) is
        truthy and return its value; ``fail`` is a condition that ends the wait at once (an
        error state, say)."""
        return self._wait(condition, timeout, list(args), fail, condition)

    def _wait(self, condition: str, timeout: float, args: list, fail: str | None, what: str):
        outcome = self._wait_in_page(_probe(condition, fail), timeout, args)
        if outcome is not None and not outcome.get("failed"):
            return outcome["ok"]
        why = (f"waited {timeout:.0f} s for {what}" if outcome is None else
               "the app went to error" if fail == IN_ERROR else f"gave up waiting for {what}: {fail} holds")
        state, status = self.run(SIGNALS)
        raise AssertionError(f"{why} (state {state!r}, status {status!r})")

    def _screenshot_to(self, data: bytes, path: Path | None) -> bytes:
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(data)
        return data

    # -- the app's own signals: body[data-state], #status and the #results JSON ------------
    def state(self) -> str:
        return self.run(f"return {STATE}")

    def status(self) -> str:
        return self.run("return document.getElementById('status').innerText")

    def results(self) -> dict:
        return json.loads(self.run(f"return {RESULTS}") or "{}")

    def wait_state(self, state: str, timeout: float = 60.0) -> None:
        """Wait until the app is in ``state``; the error state on the way fails at once."""
        self._wait(f"{STATE} === arguments[0]", timeout, [state], None if state == "error" else IN_ERROR,
                   f"state {state!r}")

    def wait_result(self, condition: str, timeout: float = 60.0, fail: str | None = IN_ERROR) -> dict:
        """The first #results for which ``condition`` (JavaScript, on the parsed results ``r``)
        holds; ``fail`` (by default the error state) ends the wait at once. Parsed here, not in
        the page: WebDriver may hand back an object's keys in another order than the JSON's."""
        parsed = f"(() => {{ const t = {RESULTS} || '{{}}'; const r = JSON.parse(t);" \
                 f" return ({condition}) ? t : null; }})()"
        return json.loads(self._wait(parsed, timeout, [], fail, f"results with {condition}"))

    def wait_frames(self, n: int, timeout: float = 60.0) -> dict:
        """Wait until #results reports inference number ``n`` or later; return it."""
        return self.wait_result(f"(r.frame || 0) >= {int(n)}", timeout)

    def wait_person(self, timeout: float = 60.0) -> dict:
        """The first #results with a face linked to its person: the face-descriptor model, which
        loads after the first emotion and stays for the page's life, is in and has run. Counts
        that must stay flat (tensors) are taken from here on, after the start's one-offs."""
        return self.wait_result(PERSON_LINKED, timeout)

    def wait_offline(self, timeout: float = 60.0) -> None:
        """Until a first visit's offline copy is in place (``body[data-offline]``, set by
        boot.js): the service worker has downloaded it, and its requests no longer fall in what a
        test counts. (The one-off after it, codecache.js, waits until the camera stops.)"""
        self.wait(OFFLINE, timeout)

    def press_start(self, timeout: float = 10.0) -> None:
        """Click Start camera and wait for the app to act on it: out of the error state it was
        in (or its status changed), and past "Starting the camera…"."""
        before = self.status()
        self.click("#start")
        self.wait(f"!({IN_ERROR} && document.getElementById('status').innerText === arguments[0])"
                  " && document.getElementById('status').innerText !== 'Starting the camera…'", timeout, before)


class Engine(contextlib.AbstractContextManager):
    name: str
    version: str
    log = None  # the browser's own output (an open file) where the driver lets us keep it; gone at close

    def log_tail(self, lines: int = 40) -> str:
        """The end of the browser's own output: what a crash printed."""
        if self.log is None:
            return ""
        with open(self.log.name, errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])

    def _drop_log(self) -> None:
        if self.log is not None:
            self.log.close()
            with contextlib.suppress(OSError):
                os.unlink(self.log.name)

    def open(self, url: str, camera: str = "face", size: tuple[int, int] = (1280, 800)) -> Page:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __exit__(self, *exc):
        self.close()

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


# -- Chromium -----------------------------------------------------------------------------
class ChromiumPage(Page):
    """A Playwright page: ``page`` and ``context`` are Playwright's, for what only Chromium
    tests do (routes, init scripts, request events, CDP)."""

    def __init__(self, engine, context, page):
        self.engine, self.context, self.page = engine, context, page

    def run(self, body, *args):
        return self.page.evaluate(f"(args) => (function () {{ {body} }}).apply(null, args)", list(args))

    def run_async(self, body, *args):
        return self.page.evaluate(f"(args) => (async function () {{ {body} }}).apply(null, args)", list(args))

    def click(self, selector):
        self.page.click(selector)

    def set_files(self, selector, paths):
        self.page.set_input_files(selector, [str(p) for p in paths])

    def screenshot(self, path=None):
        return self._screenshot_to(self.page.screenshot(), path)

    def goto(self, url):
        self.page.goto(url)

    def reload(self):
        self.page.reload()

    def close(self):
        self.context.close()

    def _wait_in_page(self, probe, timeout, args):
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:  # Playwright starts the wait again in the new document when the page navigates
            handle = self.page.wait_for_function(f"(args) => ({probe}).apply(null, args)", arg=args,
                                                 timeout=timeout * 1000, polling=POLL_MS)
        except PlaywrightTimeout:
            return None
        return handle.json_value()


class Chromium(Engine):
    """Headless Chromium through Playwright: one browser per set of launch flags (the camera
    and its video are flags), started on first use. ``playwright``: a running sync Playwright
    to share (one per thread is allowed), else its own."""

    name = "chromium"

    def __init__(self, face_video: Path | None = None, playwright=None, wrap=None):
        from playwright.sync_api import sync_playwright

        self.executable = find_chromium()
        if not self.executable:
            raise EngineMissing("Chromium is not installed (Debian: apt-get install chromium)")
        if wrap:
            self.executable = wrap(self.executable)
        self.face_video = face_video
        self._own = playwright is None
        self._pw = sync_playwright().start() if self._own else playwright
        self._browsers: dict[tuple, object] = {}
        self.version = self.browser("none").version

    def browser(self, camera: str = "none", face_video: Path | None = None, flags: tuple[str, ...] = ()):
        """The Playwright browser with ``camera`` ("face": the fake camera plays ``face_video``,
        by default the engine's) and the extra launch ``flags``."""
        face_video = (face_video or self.face_video) if camera == "face" else None
        key = (camera, str(face_video), tuple(flags))
        if key not in self._browsers:
            if camera == "face" and face_video is None:
                raise ValueError("Chromium needs face_video for camera='face'")
            video = [f"--use-file-for-fake-video-capture={face_video}"] if face_video else []
            args = CHROMIUM_FLAGS + CHROMIUM_CAMERA_FLAGS[camera] + video + list(flags)
            self._browsers[key] = self._pw.chromium.launch(executable_path=self.executable, args=args)
        return self._browsers[key]

    def new_context(self, camera: str = "none", size: tuple[int, int] = (1280, 800), face_video: Path | None = None,
                    flags: tuple[str, ...] = (), **options):
        """A fresh Playwright context (no cookies, storage or service workers from another);
        ``options`` are Playwright's ``new_context`` options."""
        return self.browser(camera, face_video, flags).new_context(viewport={"width": size[0], "height": size[1]},
                                                                   **options)

    def new_page(self, camera: str = "none", size: tuple[int, int] = (1280, 800), **options) -> ChromiumPage:
        """A blank page in a fresh context, for routes or init scripts before ``goto``."""
        context = self.new_context(camera, size, **options)
        return ChromiumPage(self, context, context.new_page())

    def open(self, url, camera="face", size=(1280, 800)):
        page = self.new_page(camera, size)
        page.goto(url)
        return page

    def close(self):
        try:
            for browser in self._browsers.values():
                browser.close()
        finally:  # a browser killed under it (procs.Deadline) fails its close: Playwright must stop all the same
            if self._own:
                self._pw.stop()


# -- Firefox --------------------------------------------------------------------------------
class _WebDriverPage(Page):
    """What Marionette and Selenium share: elements by CSS selector, async scripts with a
    callback, navigation. Subclasses give ``_find``, ``_execute_async`` and ``_png``."""

    def run_async(self, body, *args):
        result = self._execute_async(_wrap_async(body), list(args))
        if "error" in result:
            raise RuntimeError(result["error"])
        return result["ok"]

    def click(self, selector):
        self._find(selector).click()

    def set_files(self, selector, paths):
        self._find(selector).send_keys("\n".join(str(p) for p in paths))

    def screenshot(self, path=None):
        return self._screenshot_to(self._png(), path)

    def reload(self):
        self.driver.refresh()

    def close(self):
        """The window stays (one per engine); the page goes, and with it its camera and work."""
        self.goto("about:blank")

    def _wait_in_page(self, probe, timeout, args):
        # In spans of at most 50 s: an async script may run 120 s (the script timeouts below).
        deadline = time.monotonic() + timeout
        while True:
            span = max(0.0, min(deadline - time.monotonic(), 50.0))
            try:
                outcome = self.run_async(WAIT_IN_PAGE % (probe, POLL_MS), args, span * 1000)
            except RuntimeError:
                raise  # the condition itself failed: a mistake in it, or the page's fault
            except Exception:  # the page navigated during the script (a reload): wait in the new one
                if time.monotonic() >= deadline:
                    raise
                continue
            if outcome is not None or time.monotonic() >= deadline:
                return outcome


class FirefoxPage(_WebDriverPage):
    def __init__(self, engine, client):
        self.engine, self.driver = engine, client

    def run(self, body, *args):
        # sandbox=None: the page's own globals (tf, window.__record), not Xray-wrapped copies.
        return self.driver.execute_script(body, script_args=list(args), sandbox=None)

    def _execute_async(self, script, args):
        return self.driver.execute_async_script(script, script_args=args, sandbox=None, script_timeout=120000)

    def _find(self, selector):
        from marionette_driver.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def _png(self):
        return self.driver.screenshot(format="binary")

    def goto(self, url):
        self.driver.navigate(url)


class Firefox(Engine):
    """One headless Firefox for every page; pages open one after another in its window."""

    name = "firefox"
    CAMERA_PREFS = {
        # The permission prompt answered yes; the page's test script provides the face.
        "face": {"media.navigator.permission.disabled": True, "media.navigator.streams.fake": True},
        # No fake device, and this machine has no camera: Firefox's own NotFoundError.
        "none": {"media.navigator.permission.disabled": True, "media.navigator.streams.fake": False},
        # The camera permission blocked, as a person's "Block": Firefox's own NotAllowedError.
        "denied": {"media.navigator.permission.disabled": False, "media.navigator.streams.fake": True,
                   "permissions.default.camera": 2},
    }

    def __init__(self, wrap=None):
        from marionette_driver.marionette import Marionette
        from mozprofile import Profile
        from mozrunner import FirefoxRunner

        binary = shutil.which("firefox-esr") or shutil.which("firefox")
        if not binary:
            raise EngineMissing("Firefox is not installed (Debian: apt-get install firefox-esr)")
        if wrap:
            binary = wrap(binary)
        port = _free_port()
        self._profile = Profile(preferences={**FIREFOX_PREFS, "marionette.port": port})
        self.log = tempfile.NamedTemporaryFile(prefix="moodlens-firefox-", suffix=".log", delete=False)
        self._runner = FirefoxRunner(binary=binary, profile=self._profile,
                                     cmdargs=["--marionette", "--headless", "-remote-allow-system-access"],
                                     process_args={"stream": self.log})
        self._runner.start()
        self.client = Marionette(host="127.0.0.1", port=port, startup_timeout=60)
        self.client.start_session()
        self.version = str(self.client.session_capabilities.get("browserVersion", "?"))
        self._camera = None

    def open(self, url, camera="face", size=(1280, 800)):
        if camera != self._camera:
            with self.client.using_context(self.client.CONTEXT_CHROME):
                for name, value in self.CAMERA_PREFS[camera].items():
                    self.client.set_pref(name, value)
                if camera != "denied":
                    self.client.clear_pref("permissions.default.camera")
            self._camera = camera
        self.client.set_window_rect(width=size[0], height=size[1])
        self.client.navigate(url)
        return FirefoxPage(self, self.client)

    def close(self):
        with contextlib.suppress(Exception):
            self.client.delete_session()
        self._runner.stop()
        self._profile.cleanup()
        self._drop_log()


# -- WebKit ---------------------------------------------------------------------------------
class WebKitPage(_WebDriverPage):
    def __init__(self, engine, driver):
        self.engine, self.driver = engine, driver

    def run(self, body, *args):
        return self.driver.execute_script(body, *args)

    def _execute_async(self, script, args):
        return self.driver.execute_async_script(script, *args)

    def _find(self, selector):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def _png(self):
        return self.driver.get_screenshot_as_png()

    def goto(self, url):
        self.driver.get(url)


class WebKit(Engine):
    """MiniBrowser on its own Xvfb display; one per camera mode (mock devices are a launch flag)."""

    name = "webkit"

    def __init__(self, wrap=None):
        problem = missing("webkit")
        if problem:
            raise EngineMissing(f"WebKit is not installed (Debian: apt-get install {problem})")
        self._wrap = wrap
        read, write = os.pipe()
        self._xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1920x1080x24", "-nolisten",
                                       "tcp"], pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as fh:
            self.display = ":" + fh.readline().strip()
        self._drivers: dict[str, object] = {}
        # The driver's output, MiniBrowser's and its web processes' with it: where a crash says why.
        self.log = tempfile.NamedTemporaryFile(prefix="moodlens-webkit-", suffix=".log", delete=False)
        self.version = "?"
        self.version = self._driver("none").capabilities.get("browserVersion", "?")

    def _driver(self, camera: str):
        if camera in self._drivers and not _alive(self._drivers[camera]):
            # MiniBrowser's session ended under an earlier page (WebKit crashed: ``self.log`` says
            # how); the next page gets a new browser instead of the dead session's errors.
            with contextlib.suppress(Exception):
                self._drivers[camera].quit()
            del self._drivers[camera]
        if camera not in self._drivers:
            from selenium import webdriver
            from selenium.webdriver.webkitgtk.options import Options
            from selenium.webdriver.webkitgtk.service import Service

            options = Options()
            options.binary_location = self._wrap(minibrowser()) if self._wrap else minibrowser()
            for arg in ("--automation", "--enable-media-stream=true",
                        f"--enable-mock-capture-devices={'true' if camera != 'none' else 'false'}"):
                options.add_argument(arg)
            service = Service(executable_path=shutil.which("WebKitWebDriver"),
                              env={**os.environ, "DISPLAY": self.display}, log_output=self.log)
            driver = webdriver.WebKitGTK(options=options, service=service)
            driver.set_script_timeout(120)
            self._drivers[camera] = driver
        return self._drivers[camera]

    def open(self, url, camera="face", size=(1280, 800)):
        driver = self._driver(camera)
        driver.set_window_size(*size)
        driver.get(url)
        return WebKitPage(self, driver)

    def close(self):
        for driver in self._drivers.values():
            with contextlib.suppress(Exception):
                driver.quit()
        self._xvfb.terminate()
        self._xvfb.wait(10)
        self._drop_log()


def _alive(driver) -> bool:
    """Whether a WebDriver session still answers (a crashed browser's does not)."""
    from selenium.common.exceptions import WebDriverException

    try:
        driver.current_url
    except WebDriverException:
        return False
    return True


def launch(name: str, face_video: Path | None = None, playwright=None, wrap=None) -> Engine:
    """Start an engine; EngineMissing says what to install when it is not there. ``face_video``
    (y4m) is Chromium's fake camera; ``playwright`` a running sync Playwright to share; ``wrap``
    maps the browser binary's path to a launcher to run instead (the benchmark's CPU cap:
    ``cpucap.CpuCap.wrap``; the engine's driver and display are not wrapped)."""
    if name == "chromium":
        return Chromium(face_video, playwright, wrap)
    if name == "firefox":
        return Firefox(wrap)
    if name == "webkit":
        return WebKit(wrap)
    raise ValueError(f"unknown engine {name!r} (choose {', '.join(ENGINES)})")


# -- the site, with test scripts ------------------------------------------------------------------
def page_scripts(engine: str, camera: str, photo: str = "__test__/face.png", fps: int = 30) -> list[str]:
    """The test scripts an engine's page needs: the recorder always; the canvas camera where the
    engine's own fake camera shows no face; the refusal where it cannot refuse by itself."""
    scripts = ["__test__/record.js"]
    if engine != "chromium" and camera == "face":
        scripts.append(f"__test__/camera.js?photo={photo}&fps={fps}")
    if engine == "webkit" and camera == "denied":
        scripts.append("__test__/camera.js?reject=NotAllowedError")
    return scripts


class TestSite:
    """A built site on its own port (a fresh origin: nothing stored by an earlier page), with
    ``scripts`` (paths under the site) put first into index.html's <head> and ``extra`` (a
    folder) served at ``/__test__/`` beside the page scripts.

    Not a pytest test class (``__test__ = False``)."""

    __test__ = False

    def __init__(self, dist: Path, scripts: list[str], extra: Path | None = None, headers: dict | None = None):
        tags = "".join(f'<script src="./{s}"></script>' for s in scripts)
        test_dirs = [PAGE_SCRIPTS] + ([Path(extra)] if extra else [])
        recording = any(s.endswith("/record.js") for s in scripts)
        # Every path asked of this server, in order, by the page, its workers and its service
        # worker alike (a page's resource timing lists its own requests only), with when
        # (epoch seconds).
        self.served: list[tuple[str, float]] = []
        served = self.served

        class Handler(SiteHandler):  # the project's server: its MIME types and production headers
            site_headers = production_headers() if headers is None else headers

            def translate_path(self, path):
                clean = path.split("?", 1)[0].split("#", 1)[0]
                if clean.startswith("/__test__/"):
                    name = clean[len("/__test__/"):]
                    for folder in test_dirs:
                        if (folder / name).is_file():
                            return str(folder / name)
                return super().translate_path(path)

            def send_head(self):
                clean = self.path.split("?", 1)[0]
                served.append((clean, time.time()))
                if recording and clean == "/worker.js":  # the worker's recorder, where the page has record.js
                    text = "importScripts('./__test__/worker-record.js');\n" + (dist / "worker.js").read_text()
                    body = text.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/javascript; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()  # with the production headers
                    return io.BytesIO(body)
                if scripts and clean in ("/", "/index.html"):
                    html = (dist / "index.html").read_text(encoding="utf-8").replace("<head>", "<head>\n  " + tags, 1)
                    body = html.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    return io.BytesIO(body)
                return super().send_head()

        self.server = SiteServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(dist)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Read in every engine alike: every URL the page fetched (resource timing) and every CSP
# violation and error the recorder saw.
# The app's worker's too (worker-record.js): the page and the worker are one app.
REQUESTS = """const worker = window.__workerRecord ? await window.__workerRecord() : {urls: [], errors: [], violations: []};
return {
  urls: [location.href, ...performance.getEntriesByType('resource').map((e) => e.name), ...worker.urls],
  violations: window.__record ? [...window.__record.violations, ...worker.violations] : null,
  errors: window.__record ? [...window.__record.errors, ...worker.errors] : null};"""


def foreign(urls: list[str], base: str) -> list[str]:
    """The URLs not on ``base``'s origin (data: and blob: URLs stay on the device)."""
    origin = "/".join(base.split("/")[:3])
    return [u for u in urls if not (u.startswith(origin + "/") or u.startswith(("data:", "blob:")))]
