"""The page, seen from the worker: its DOM as a surface the app writes to, its services by message.

The app runs in a Web Worker (site/worker.js), where there is no DOM, so that nothing it does
holds up the page's main thread; site/page.js is its hands in the page. This module gives the
app a ``document`` that looks like the page's for what the app does with one, and sends what
the app does to page.js as a list of operations, once per turn of the event loop:

    document = await start()                    # once, in the worker: the page's state arrives
    status = document.getElementById("status")
    status.textContent = "Ready."               # -> ["set", "status", "textContent", "Ready."]
    button.addEventListener("click", handler)   # page.js forwards the event, with what the app reads
    await page.call("camera.open", constraints) # a service only the page's thread has

What the app reads back comes from a mirror: what it wrote itself, the page's state when the
app started (``init``), and what page.js sends with every event (each input's value, checked
state and files; the element's size). Nothing synchronous crosses: the page may be anywhere
(GitHub Pages and WebKitGTK give no SharedArrayBuffer), and the page's thread is never made
to wait for Python.

Canvases are drawn here, on an ``OffscreenCanvas`` per canvas with its real 2D context (text
measures and all); at the end of the turn each canvas drawn on goes to the page as one
``ImageBitmap`` (transferred, not copied), which page.js puts on screen.
"""

from __future__ import annotations

import asyncio
import weakref
from types import SimpleNamespace

from ._compat import create_proxy, js, to_js
from ._js import JsError, spawn


def _js_value(value):
    return to_js(value, dict_converter=js.Object.fromEntries)


class Page:
    """The message channel to page.js: batched page updates, calls, events."""

    def __init__(self, post=None):
        self._post = post or (lambda message, transfer: js.postMessage(message, transfer))
        self.ops: list = []
        self.transfer: list = []
        self.dirty: dict[int, Canvas] = {}
        self.calls: dict[int, asyncio.Future] = {}
        self.listeners: dict[int, tuple] = {}
        self.answers: dict[str, object] = {}  # functions the page may ask for (``expose``)
        self.sized: dict = {}  # ref -> Element whose size the page reports
        self.init: dict = {}
        self._scheduled = False
        self._next = 0
        self.document: Document | None = None
        self.on_camera_ended = None
        self.on_hidden = []

    def ref(self) -> int:
        self._next += 1
        return self._next

    # -- updates ---------------------------------------------------------------------------------
    def op(self, *op) -> None:
        self.ops.append(list(op))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_event_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        for canvas in list(self.dirty.values()):
            canvas._present()
        self.dirty.clear()
        if not self.ops:
            return
        ops, transfer = self.ops, self.transfer
        self.ops, self.transfer = [], []
        self._post(_js_value({"ops": ops}), to_js(transfer))

    def mark(self, name: str) -> None:
        """A ``performance.mark`` on the page's timeline (what the benchmark reads)."""
        self.op("mark", name)

    def expose(self, name: str, function) -> None:
        """``window[name](...args)`` in the page asks the worker: ``await function(*args)``."""
        self.answers[name] = function
        self.op("expose", name)

    # -- calls -------------------------------------------------------------------------------------
    async def call(self, name: str, *args):
        """A page service (page.js's ``calls``); its failure raises JsError(name, message)."""
        self.flush()  # the page sees the app's updates before the call
        self._next += 1
        key = self._next
        future = asyncio.get_event_loop().create_future()
        self.calls[key] = future
        self._post(_js_value({"call": key, "name": name, "args": list(args)}), to_js([]))
        return await future

    # -- from the page -----------------------------------------------------------------------------
    def receive(self, data) -> None:
        if hasattr(data, "reply"):
            future = self.calls.pop(int(data.reply), None)
            if future is None or future.done():
                return
            error = getattr(data, "error", None)
            if error is not None:
                exc = JsError(str(error.name), str(error.message))
                exc.play = bool(getattr(error, "play", False))
                future.set_exception(exc)
            else:
                future.set_result(data.value)
        elif hasattr(data, "event"):
            self._event(int(data.event), data.payload)
        elif hasattr(data, "sizes"):
            for ref, size in data.sizes:
                element = self.sized.get(ref if isinstance(ref, str) else int(ref))
                if element is not None:
                    element._sized(size)
        elif hasattr(data, "hidden"):
            self.document._props["hidden"] = bool(data.hidden)
            for callback in list(self.on_hidden):
                callback(SimpleNamespace(type="visibilitychange"))
        elif hasattr(data, "cameraEnded"):
            if self.on_camera_ended is not None:
                self.on_camera_ended()
        elif hasattr(data, "ask"):
            spawn(self._answer(data))  # an answer that cannot even be posted is shown, not lost

    async def _answer(self, data) -> None:
        try:
            value = await self.answers[str(data.name)](*data.args.to_py(depth=1))
            self._post(_js_value({"answer": data.ask, "value": value}), to_js([]))
        except Exception as exc:  # noqa: BLE001 - the asking page hears why
            self._post(_js_value({"answer": data.ask, "error": str(exc)}), to_js([]))

    def _event(self, listener: int, payload) -> None:
        found = self.listeners.get(listener)
        if found is None:
            return
        element, handler = found
        for element_id, state in payload.forms.to_py(depth=1).items():
            mirror = self.document._known.get(element_id)
            if mirror is not None:
                mirror._props.update(value=str(state.value), checked=bool(state.checked), files=state.files)
        element._sized(payload.size)
        handler(Event(payload, element))


class Event:
    """A forwarded event: what the app reads of one. page.js already called ``preventDefault``
    where the listener asked it to (it must happen during dispatch)."""

    def __init__(self, payload, element):
        self.type = str(payload.type)
        self.key = str(payload.key) if payload.key is not None else ""
        self.shiftKey = bool(payload.shiftKey)
        self.clientX = float(payload.clientX or 0)
        self.clientY = float(payload.clientY or 0)
        self.currentTarget = self.target = element
        self.dataTransfer = SimpleNamespace(files=payload.files) if payload.files is not None else None

    def preventDefault(self) -> None:  # noqa: N802 - the DOM's name
        pass


# ClassList, Style, Dataset and Context2D hold the page and the element's ref, not the element:
# no reference cycles, so an element the app lets go of (a summary table's cells, redrawn every
# second) is freed at once, not at the garbage collector's next full pass.
class ClassList:
    def __init__(self, page, ref, names: str = ""):
        self._page, self._ref, self._names = page, ref, set(names.split())

    def toggle(self, name: str, force: bool | None = None) -> bool:
        on = (name not in self._names) if force is None else bool(force)
        (self._names.add if on else self._names.discard)(name)
        self._page.op("class", self._ref, name, on)
        return on

    def add(self, name: str) -> None:
        self.toggle(name, True)

    def remove(self, name: str) -> None:
        self.toggle(name, False)

    def contains(self, name: str) -> bool:
        return name in self._names


class Style:
    """An element's inline style: written to the page, and what the app wrote read back here."""

    def __init__(self, page, ref):
        object.__setattr__(self, "_page", page)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_values", {})

    def setProperty(self, name: str, value: str) -> None:  # noqa: N802 - the DOM's name
        self._values[name] = value
        self._page.op("style", self._ref, name, value)

    def getPropertyValue(self, name: str) -> str:  # noqa: N802 - the DOM's name
        return self._values.get(name, "")

    def __setattr__(self, name: str, value) -> None:
        self.setProperty("".join(f"-{c.lower()}" if c.isupper() else c for c in name), value)


class Dataset:
    def __init__(self, page, ref, values: dict | None = None):
        object.__setattr__(self, "_page", page)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_values", dict(values or {}))

    def __getattr__(self, name: str):
        return self._values.get(name)

    def __setattr__(self, name: str, value) -> None:
        self._values[name] = value
        self._page.op("data", self._ref, name, value)


DEFAULTS = {"textContent": "", "hidden": False, "disabled": False, "value": "", "checked": False, "files": None,
            "className": "", "innerHTML": ""}


class Element:
    """An element of the page, as the app sees it from the worker."""

    def __init__(self, page: Page, ref, tag: str = "", state: dict | None = None):
        state = dict(state or {})
        d = self.__dict__
        d["_page"], d["_ref"], d["tagName"] = page, ref, tag.upper()
        d["classList"] = ClassList(page, ref, state.pop("className", "") or "")
        d["style"] = Style(page, ref)
        d["dataset"] = Dataset(page, ref, {"state": state.pop("state")} if state.get("state") else {})
        d["_props"] = state
        d["_queries"] = {}
        d["_size"], d["_on_resize"] = None, []
        if isinstance(ref, int):  # one the app made or looked up: page.js keeps a handle while the app does
            weakref.finalize(self, _release, page, ref)

    def __getattr__(self, name: str):
        props = self.__dict__["_props"]
        if name in props:
            return props[name]
        if name in DEFAULTS:
            return DEFAULTS[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value) -> None:
        self._props[name] = value
        if name == "className":
            self.__dict__["classList"] = ClassList(self._page, self._ref, value)
        self._page.op("set", self._ref, name, value)

    @property
    def id(self):
        return self._ref if isinstance(self._ref, str) else self._props.get("id", "")

    # -- the tree ---------------------------------------------------------------------------------
    # The page keeps the tree; the app keeps only the elements it holds on to. A handle the
    # app lets go of (a summary table's cells, made anew every second) is freed at once, and
    # page.js is told to forget its own (``_release``).
    def append(self, *children) -> None:
        for child in children:
            self._page.op("append", self._ref, child._ref)

    appendChild = append  # noqa: N815 - the DOM's name

    def remove(self) -> None:
        self._page.op("remove", self._ref)

    def replaceChildren(self) -> None:  # noqa: N802 - the DOM's name
        self._page.op("clear", self._ref)

    def querySelector(self, selector: str):  # noqa: N802 - the DOM's name
        """The first match, looked up by the page; the same handle each time it is asked for."""
        found = self._queries.get(selector)
        if found is None:
            found = self._queries[selector] = _make(self._page, self._page.ref(), "")
            self._page.op("query", found._ref, self._ref, selector)
        return found

    # -- the rest -----------------------------------------------------------------------------------
    def setAttribute(self, name: str, value: str) -> None:  # noqa: N802 - the DOM's name
        self._page.op("attr", self._ref, name, value)

    def call(self, method: str, *args) -> None:
        """``element[method](...args)`` in the page (``click``, ``focus``, ``pause``)."""
        self._page.op("call", self._ref, method, list(args))

    def click(self) -> None:
        self.call("click")

    def show_blob(self, name: str, blob) -> None:
        """``element[name]`` = a blob: URL the page makes for ``blob`` (a File, say), revoking the
        one it showed before: a <video>'s ``src``, a link's ``href``."""
        self._page.op("blob", self._ref, name, blob)

    def addEventListener(self, kind: str, handler, prevent=False) -> None:  # noqa: N802 - the DOM's name
        """``prevent``: page.js calls ``preventDefault`` for every such event (True), or for
        those whose ``key`` is in the list: it must happen during dispatch, in the page."""
        key = self._page.ref()
        self._page.listeners[key] = (self, handler)
        if kind in ("dragenter", "dragover", "dragleave", "drop"):
            prevent = True  # the browser would open the file otherwise
        self._page.op("listen", self._ref, kind, key, prevent)

    def getBoundingClientRect(self):  # noqa: N802 - the DOM's name
        size = self._size
        return SimpleNamespace(**(size["rect"] if size else {"left": 0, "top": 0, "width": 0, "height": 0}))

    @property
    def clientWidth(self) -> int:  # noqa: N802 - the DOM's name
        self._measure()
        return self._size["clientWidth"] if self._size else 0

    def on_resize(self, callback) -> None:
        """``callback()`` when the page reports a new size for this element."""
        self._on_resize.append(callback)
        self._measure()

    def _measure(self) -> None:
        if self._ref not in self._page.sized:
            self._page.sized[self._ref] = self
            self._page.op("measure", self._ref, self._ref)

    def _sized(self, size) -> None:
        new = {"clientWidth": int(size.clientWidth), "clientHeight": int(size.clientHeight),
               "devicePixelRatio": float(getattr(size, "devicePixelRatio", 1) or 1),
               "rect": {k: float(getattr(size.rect, k)) for k in ("left", "top", "width", "height")}}
        changed = self._size is None or any(new[k] != self._size[k] for k in ("clientWidth", "clientHeight",
                                                                              "devicePixelRatio"))
        self.__dict__["_size"] = new
        self._page.document.defaultView.devicePixelRatio = new["devicePixelRatio"]  # the page's, as of now
        if changed:
            for callback in list(self._on_resize):
                callback()


class Context2D:
    """A canvas's real 2D context, in the worker; using it marks the canvas for the page."""

    def __init__(self, canvas, context):
        object.__setattr__(self, "_canvas", weakref.ref(canvas))
        object.__setattr__(self, "_context", context)

    def __getattr__(self, name: str):
        self._canvas()._touch()
        return getattr(self._context, name)

    def __setattr__(self, name: str, value) -> None:
        self._canvas()._touch()
        setattr(self._context, name, value)


class Canvas(Element):
    """A <canvas>: drawn in the worker on an OffscreenCanvas, shown in the page as a bitmap."""

    def __init__(self, page, ref, tag="canvas", state=None):
        super().__init__(page, ref, tag, state)
        self.__dict__["_offscreen"] = js.OffscreenCanvas.new(300, 150)
        self.__dict__["_context"] = None

    def __getattr__(self, name):
        if name in ("width", "height"):
            return int(getattr(self._offscreen, name))
        return super().__getattr__(name)

    def __setattr__(self, name, value):
        if name in ("width", "height"):
            setattr(self._offscreen, name, int(value))  # resizing clears it: the page must see that
            self._touch()
            return
        super().__setattr__(name, value)

    def getContext(self, kind: str = "2d", options=None):  # noqa: N802 - the DOM's name
        if self._context is None:
            context = self._offscreen.getContext(kind, options) if options is not None else \
                self._offscreen.getContext(kind)
            self.__dict__["_context"] = Context2D(self, context)
        return self._context

    def toBlob(self, callback, kind: str = "image/png") -> None:  # noqa: N802 - the DOM's name
        """The picture now (copied at the call), as a Blob, to ``callback``."""
        promise = self._offscreen.convertToBlob(_js_value({"type": kind}))
        promise.then(callback)

    def _touch(self) -> None:
        self._page.dirty[id(self)] = self
        if not self._page._scheduled:
            self._page._scheduled = True
            asyncio.get_event_loop().call_soon(self._page.flush)

    def _present(self) -> None:
        canvas = self._offscreen
        if int(canvas.width) == 0 or int(canvas.height) == 0:
            return
        bitmap = canvas.transferToImageBitmap()  # leaves the OffscreenCanvas blank: drawn anew each time
        self._page.ops.append(["bitmap", self._ref, bitmap])
        self._page.transfer.append(bitmap)


def _release(page, ref: int) -> None:
    page.op("forget", ref)


def _make(page, ref, tag: str, state=None) -> Element:
    return (Canvas if tag.lower() == "canvas" else Element)(page, ref, tag, state)


class Document:
    """The page's document, as the app sees it from the worker."""

    def __init__(self, page: Page, init: dict):
        self._page = page
        self._props = {"hidden": bool(init.get("hidden"))}
        self._known: dict[str, Element] = {}
        self._elements = init.get("elements", {})
        self._queries: dict[str, Element] = {}
        self.body = Element(page, "@body", "body", {"state": init.get("state") or "loading"})
        self.documentElement = Element(page, "@root", "html")
        self.defaultView = SimpleNamespace(devicePixelRatio=float(init.get("devicePixelRatio") or 1))
        self.baseURI = init.get("href", "")

    @property
    def hidden(self) -> bool:
        return self._props["hidden"]

    def getElementById(self, element_id: str):  # noqa: N802 - the DOM's name
        found = self._known.get(element_id)
        if found is None:
            state = dict(self._elements.get(element_id) or {})
            if not state:
                return None
            tag = state.pop("tag", "")
            found = self._known[element_id] = _make(self._page, element_id, tag, state)
        return found

    def querySelector(self, selector: str):  # noqa: N802 - the DOM's name
        found = self._queries.get(selector)
        if found is None:
            found = self._queries[selector] = _make(self._page, self._page.ref(), "")
            self._page.op("query", found._ref, None, selector)
        return found

    def createElement(self, tag: str):  # noqa: N802 - the DOM's name
        element = _make(self._page, self._page.ref(), tag)
        self._page.op("create", element._ref, tag)
        return element

    def addEventListener(self, kind: str, handler) -> None:  # noqa: N802 - the DOM's name
        if kind == "visibilitychange":
            self._page.on_hidden.append(handler)


page = Page()


async def start() -> Document:
    """Listen to the page and wait for its state (page.js's ``init``); the app's ``document``."""
    loop = asyncio.get_event_loop()
    ready = loop.create_future()

    def receive(data):
        if hasattr(data, "init"):
            page.init = data.init.to_py(depth=1)
            page.init["elements"] = data.init.elements.to_py()
            page.init["stored"] = data.init.stored.to_py()
            js.moodlensSetClock(float(data.init.timeOrigin))
            page.document = Document(page, page.init)
            if not ready.done():
                ready.set_result(page.document)
        else:
            page.receive(data)

    js.onmessage = create_proxy(lambda event: receive(event.data))
    for data in js.moodlensEarlyMessages():
        receive(data)
    return await ready
