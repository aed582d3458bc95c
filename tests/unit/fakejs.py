"""A small fake of the page and of TF.js, for the browser layer's decisions under plain CPython.

Under CPython, ``moodlens.browser._compat`` gives an empty ``js`` module; ``install_page`` puts
into it the few pieces of a page the tests need: a clock (``performance``), ``console``,
``localStorage``, timers and a document whose elements keep what is set on them (text,
``disabled``, ``dataset``, classes). Nothing else is faked: a test that reaches for another
browser API fails with AttributeError, as a browser without it would.

TF.js is faked one level up, where the browser layer meets it: ``FakeEngine`` is the backend
switch (``tfjs.set_backend`` / ``backend`` / ``version``) and ``FakeModel`` is a real
``tfjs.Model`` (its leases, retirement and disposal are the code under test) whose TF.js calls
(build, warm-up, timing, prediction) answer per backend from a table.

    page = install_page(monkeypatch)
    engine = FakeEngine(fails={"webgl": "no WebGL context"})
    model = FakeModel(manifest, engine, ms={"wasm": 3.0, "cpu": 40.0})
"""

from __future__ import annotations

import asyncio
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodlens import config, manifest
from moodlens.backends import Capabilities
from moodlens.browser import remote, tfjs
from moodlens.browser._compat import js
from moodlens.browser._js import JsError
from moodlens.browser.analysis import Analysis
from moodlens.browser.recovery import Watchdog
from moodlens.browser.registry import ModelRegistry
from moodlens.browser.view import View


# -- the page -----------------------------------------------------------------------------
class ClassList:
    def __init__(self):
        self.names: set[str] = set()

    def add(self, name):
        self.names.add(name)

    def remove(self, name):
        self.names.discard(name)

    def contains(self, name):
        return name in self.names

    def toggle(self, name, on=None):
        on = name not in self.names if on is None else on
        (self.names.add if on else self.names.discard)(name)
        return on


class Style:
    def __init__(self):
        self.properties: dict[str, str] = {}

    def setProperty(self, name, value):
        self.properties[name] = value

    def getPropertyValue(self, name):
        return self.properties.get(name, "")


class Canvas2D:
    def clearRect(self, *_):
        pass


class Element:
    def __init__(self, tag: str = "div", id: str = ""):
        self.tagName, self.id = tag, id
        self.textContent, self.value = "", ""
        self.disabled = self.hidden = self.checked = self.selected = False
        self.width = self.height = 0
        self.dataset = types.SimpleNamespace()
        self.classList, self.style = ClassList(), Style()
        self.children: list[Element] = []
        self.attributes: dict[str, str] = {}
        self.listeners: dict[str, list] = {}
        self.rect = types.SimpleNamespace(left=0, top=0, width=0, height=0)
        self.resized: list = []

    def on_resize(self, callback):  # remote.py's: called when the page reports a new size
        self.resized.append(callback)

    def resize(self, width: float, height: float) -> None:
        """As the page reports it: a new size, then the app's callbacks."""
        self.rect = types.SimpleNamespace(left=0, top=0, width=width, height=height)
        for callback in self.resized:
            callback()

    def getBoundingClientRect(self):
        return self.rect

    def append(self, *nodes):
        self.children.extend(nodes)

    def replaceChildren(self, *nodes):
        self.children = list(nodes)

    def setAttribute(self, name, value):
        self.attributes[name] = value

    def addEventListener(self, kind, listener, *_options):
        self.listeners.setdefault(kind, []).append(listener)

    def getContext(self, *_):
        return Canvas2D()


class Document(Element):
    """Every id the page asks for exists (an element made on first use)."""

    def __init__(self, state: str = "loading"):
        super().__init__("#document")
        self.body, self.documentElement = Element("body"), Element("html")
        self.body.dataset.state = state
        self._by_id: dict[str, Element] = {}
        self.defaultView = types.SimpleNamespace(devicePixelRatio=1.0)

    def getElementById(self, id):
        return self._by_id.setdefault(id, Element(id=id))

    def createElement(self, tag):
        return Element(tag)


class Clock:
    def __init__(self):
        self.ms = 1000.0
        self.marks: list[str] = []

    def now(self):
        return self.ms

    def mark(self, name):
        self.marks.append(name)


class Console:
    def __init__(self):
        self.errors: list[str] = []

    def error(self, message):
        self.errors.append(str(message))


class Storage:
    def __init__(self):
        self.items: dict[str, str] = {}

    def getItem(self, key):
        return self.items.get(key)

    def setItem(self, key, value):
        self.items[key] = str(value)

    def removeItem(self, key):
        self.items.pop(key, None)


class Timers:
    def __init__(self):
        self.intervals: list[tuple] = []

    def setInterval(self, callback, ms):
        self.intervals.append((callback, ms))
        return len(self.intervals)


@dataclass
class Page:
    document: Document = field(default_factory=Document)
    clock: Clock = field(default_factory=Clock)
    console: Console = field(default_factory=Console)
    storage: Storage = field(default_factory=Storage)
    timers: Timers = field(default_factory=Timers)

    @property
    def status(self) -> str:
        return self.document.getElementById("status").textContent

    @property
    def state(self) -> str:
        return self.document.body.dataset.state

    @property
    def notes(self) -> list[str]:
        return [li.textContent for li in self.document.getElementById("notes").children]


class RemotePage:
    """``moodlens.browser.remote.page``, the app's channel to page.js: its updates recorded, its
    state from the fake page (localStorage's items, the clock's marks)."""

    def __init__(self, page: Page):
        self.page = page
        self.init = {"stored": page.storage.items, "search": "", "href": "http://localhost/", "secure": True,
                     "camera": True}
        self.ops: list[tuple] = []

    def op(self, name, *args):
        self.ops.append((name, *args))

    def mark(self, name):
        self.page.clock.mark(name)


def install_page(monkeypatch) -> Page:
    """A fresh page in ``js`` for one test (monkeypatch takes it away afterwards)."""
    page = Page()
    monkeypatch.setattr(remote, "page", RemotePage(page))
    for name, value in {"document": page.document, "performance": page.clock, "console": page.console,
                        "localStorage": page.storage, "setInterval": page.timers.setInterval,
                        "window": types.SimpleNamespace()}.items():
        monkeypatch.setattr(js, name, value, raising=False)
    return page


# -- TF.js ----------------------------------------------------------------------------------
class FakeEngine:
    """TF.js's backend switch. ``fails``: backends that do not initialise, and why; ``hangs``:
    backends whose promises never settle once the models run there."""

    def __init__(self, fails: dict[str, str] | None = None, hangs: tuple[str, ...] = ()):
        self.fails, self.hangs = dict(fails or {}), hangs
        self.current = "cpu"
        self.switches: list[str] = []

    async def set_backend(self, name: str) -> str | None:
        self.switches.append(name)
        if name in self.fails:
            return self.fails[name]
        self.current = name
        return None

    def backend(self) -> str:
        return self.current

    @staticmethod
    def version() -> str:
        return "4.22.0"


class _Graph:
    """What TF.js built: freed once."""

    def __init__(self, backend: str):
        self.backend = backend
        self.disposed = False

    def dispose(self):
        assert not self.disposed, "a model freed twice"
        self.disposed = True


class FakeModel(tfjs.Model):
    """A ``tfjs.Model`` whose TF.js calls answer from ``ms`` (milliseconds per call on each
    backend; a backend missing from it cannot run the model: JsError). ``probabilities``: what
    ``predict`` gives for each face; ``gate``: an asyncio.Event ``predict`` waits for."""

    def __init__(self, manifest, engine: FakeEngine, ms: dict[str, float] | None = None,
                 probabilities=None, gate: asyncio.Event | None = None):
        super().__init__(manifest, f"models/{manifest.id}/model.json", artifacts=None)
        self.engine, self.ms = engine, dict(ms or {})
        self.probabilities, self.gate = probabilities, gate
        self.model = _Graph(engine.current)
        self.timed: list[tuple[str, int]] = []  # (backend, runs) per time_ms call
        self.predicted = 0

    @property
    def freed(self) -> bool:
        return self.model is None

    async def _answer(self) -> float:
        backend = self.engine.current
        assert self.model is not None, f"{self.manifest.id} used after it was freed"
        assert self.model.backend == backend, f"{self.manifest.id} built on {self.model.backend}, run on {backend}"
        if backend in self.engine.hangs:
            await asyncio.Event().wait()
        if backend not in self.ms:
            raise JsError("Error", f"{backend} cannot run {self.manifest.id}")
        return self.ms[backend]

    async def reload(self):
        if self.model is not None:
            self.model.dispose()
        self.model = _Graph(self.engine.current)

    async def warm_up(self):
        await self._answer()

    async def time_ms(self, runs: int = 3) -> float:
        self.timed.append((self.engine.current, runs))
        return await self._answer()

    async def predict(self, batch, size=None):
        self.predicted += 1
        if self.gate is not None:
            await self.gate.wait()
        await self._answer()
        return np.tile(np.asarray(self.probabilities, np.float32), (batch.shape[0], 1))


# -- the app's parts on the fake page -------------------------------------------------------------
MODELS = Path(__file__).resolve().parents[2] / "models"


def load_manifest(model_id: str):
    return manifest.load(MODELS / model_id / "manifest.json")


class FakeCamera:
    """The camera mode as recovery and actions see it."""

    def __init__(self, running: bool = True):
        self.running = running
        self.watchdog = Watchdog()
        self.restarts = self.replays = self.halts = 0

    def restart(self):
        self.restarts += 1

    async def replay(self):
        self.replays += 1

    def halt(self):
        self.halts += 1
        self.running = False


async def analysis_on(engine: FakeEngine, backend: str, ms: dict[str, float], emotion_id: str = "fer-mini-xception"):
    """The app's Analysis on the installed page: the real View, a registry started on ``backend``
    (forced) with one emotion model of speeds ``ms``, the real Pipeline."""
    from moodlens.pipeline import Pipeline

    async def load(model_id):
        return FakeModel(load_manifest(model_id), engine, ms, probabilities=HAPPY)

    registry = ModelRegistry(Capabilities(webgl="webgl2", wasm=True, wasm_simd=True), engine=engine, load=load)
    [emotion] = await registry.start(backend, [emotion_id])
    analysis = Analysis(View(js.document), registry, config.Config(), None, "BlazeFace", Pipeline)
    analysis.use_emotion(emotion)
    return analysis


HAPPY = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]  # fer-mini-xception's labels: angry, disgust, fear, happy, ...
