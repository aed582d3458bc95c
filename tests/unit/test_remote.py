"""The worker's side of page.js (moodlens.browser.remote): what the app does to its ``document``
becomes one list of page updates per turn, what it reads back comes from the mirror, events
bring the inputs' state with them, and calls are answered or refused by the page."""

from __future__ import annotations

import asyncio
import types

import pytest

from moodlens.browser import remote
from moodlens.browser._compat import js
from moodlens.browser._js import JsError


class JsObject(types.SimpleNamespace):
    """A plain JavaScript object as Pyodide shows it: attributes, and ``to_py``."""

    def to_py(self, depth=-1):
        return {k: v for k, v in vars(self).items()}


class Offscreen:
    """An OffscreenCanvas: its size, a context that records, and its picture as a bitmap."""

    def __init__(self, w, h):
        self.width, self.height, self.calls = w, h, []

    def getContext(self, kind, options=None):
        canvas = self

        class Context:
            def __getattr__(self, name):
                return lambda *args: canvas.calls.append((name, *args))

        return Context()

    def transferToImageBitmap(self):
        return types.SimpleNamespace(width=self.width, height=self.height, calls=list(self.calls))


INIT = {"state": "loading", "hidden": False, "href": "http://localhost/index.html?x=1", "devicePixelRatio": 2,
        "elements": {"status": {"tag": "p", "className": "status"}, "start": {"tag": "button", "disabled": True},
                     "landmarks": {"tag": "input", "checked": False}, "overlay": {"tag": "canvas"}}}


@pytest.fixture
def page(monkeypatch):
    monkeypatch.setattr(js, "Object", types.SimpleNamespace(fromEntries=dict), raising=False)
    monkeypatch.setattr(js, "OffscreenCanvas", types.SimpleNamespace(new=Offscreen), raising=False)
    posted = []
    page = remote.Page(post=lambda message, transfer: posted.append((message, transfer)))
    page.document = remote.Document(page, INIT)
    page.posted = posted
    return page


def turn():
    """Let the event loop finish its turn: the updates go out at its end."""
    return asyncio.sleep(0)


def in_a_turn(test):
    """Run a test's body inside an event loop (the app's updates are sent at the end of a turn)."""
    def run(page):
        async def body():
            test(page)
            await turn()
        asyncio.run(body())
    run.__name__, run.__doc__ = test.__name__, test.__doc__
    return run


def test_writes_go_to_the_page_in_order_as_one_list_per_turn(page):
    async def run():
        doc = page.document
        doc.getElementById("status").textContent = "Ready."
        doc.body.dataset.state = "ready"
        doc.getElementById("start").classList.toggle("busy", True)
        li = doc.createElement("li")
        doc.getElementById("status").append(li)
        assert page.posted == [], "nothing crosses before the turn ends"
        await turn()
    asyncio.run(run())
    message = page.posted[0][0]
    assert message["ops"][:3] == [["set", "status", "textContent", "Ready."], ["data", "@body", "state", "ready"],
                                  ["class", "start", "busy", True]]
    assert message["ops"][3][0] == "create" and message["ops"][4] == ["append", "status", message["ops"][3][1]]


@in_a_turn
def test_reads_come_from_the_mirror_of_the_page_and_of_what_the_app_wrote(page):
    doc = page.document
    assert doc.body.dataset.state == "loading", "the page's state when the app started"
    assert doc.getElementById("start").disabled is True
    assert doc.getElementById("status") is doc.getElementById("status"), "one handle per element"
    assert doc.getElementById("nowhere") is None
    assert doc.getElementById("status").classList.contains("status")
    status = doc.getElementById("status")
    status.classList.add("error")
    status.textContent = "Broken."
    assert status.classList.contains("error") and status.textContent == "Broken."
    assert doc.defaultView.devicePixelRatio == 2.0


@in_a_turn
def test_an_event_brings_the_inputs_state_before_the_handler_runs(page):
    doc = page.document
    seen = []
    box = doc.getElementById("landmarks")
    box.addEventListener("change", lambda event: seen.append((event.currentTarget is box, box.checked)))
    [listen] = [op for op in page.ops if op[0] == "listen"]
    size = JsObject(clientWidth=640, clientHeight=480, rect=JsObject(left=1, top=2, width=640, height=480))
    forms = JsObject(landmarks=JsObject(value="on", checked=True, files=None))
    page.receive(JsObject(event=listen[3], payload=JsObject(type="change", key=None, shiftKey=False, clientX=0,
                                                            clientY=0, files=None, forms=forms, size=size)))
    assert seen == [(True, True)]
    assert box.getBoundingClientRect().left == 1 and box.clientWidth == 640


@in_a_turn
def test_a_new_size_or_pixel_ratio_reaches_the_apps_resize_callbacks(page):
    box = page.document.getElementById("status")
    seen = []
    box.on_resize(lambda: seen.append((box.clientWidth, page.document.defaultView.devicePixelRatio)))
    assert ["measure", "status", "status"] in page.ops

    def report(width, height, ratio):
        page.receive(JsObject(sizes=[["status", JsObject(clientWidth=width, clientHeight=height, devicePixelRatio=ratio,
                                                         rect=JsObject(left=0, top=0, width=width, height=height))]]))
    report(640, 480, 1)
    report(640, 480, 1)  # the same again: no callback
    report(640, 500, 1)
    report(640, 500, 1.25)  # zoomed: the CSS size as it was
    assert seen == [(640, 1.0), (640, 1.0), (640, 1.25)]


@in_a_turn
def test_drag_and_drop_listeners_ask_the_page_to_prevent_the_default(page):
    zone = page.document.getElementById("status")
    zone.addEventListener("drop", lambda event: None)
    zone.addEventListener("keydown", lambda event: None, prevent=["ArrowLeft"])
    listens = [op for op in page.ops if op[0] == "listen"]
    assert [op[4] for op in listens] == [True, ["ArrowLeft"]]


def test_a_call_is_answered_by_the_page_or_refused_with_the_pages_error(page):
    async def run():
        answered = asyncio.ensure_future(page.call("camera.devices"))
        refused = asyncio.ensure_future(page.call("camera.open", {"facingMode": "user"}))
        await turn()
        (first, _), (second, _) = page.posted
        assert (first["name"], second["name"], second["args"]) == ("camera.devices", "camera.open",
                                                                   [{"facingMode": "user"}])
        page.receive(JsObject(reply=first["call"], value=["a camera"]))
        page.receive(JsObject(reply=second["call"], error=JsObject(name="NotAllowedError", message="no", play=False)))
        assert await answered == ["a camera"]
        with pytest.raises(JsError) as refusal:
            await refused
        assert refusal.value.name == "NotAllowedError"
    asyncio.run(run())


def test_a_canvas_drawn_in_a_turn_goes_to_the_page_as_one_transferred_bitmap(page):
    async def run():
        overlay = page.document.getElementById("overlay")
        overlay.width, overlay.height = 640, 480
        ctx = overlay.getContext("2d")
        ctx.clearRect(0, 0, 640, 480)
        ctx.strokeRect(1, 2, 3, 4)
        await turn()
    asyncio.run(run())
    [(message, transfer)] = page.posted
    [bitmap_op] = [op for op in message["ops"] if op[0] == "bitmap"]
    bitmap = bitmap_op[2]
    assert bitmap_op[1] == "overlay" and (bitmap.width, bitmap.height) == (640, 480)
    assert bitmap.calls == [("clearRect", 0, 0, 640, 480), ("strokeRect", 1, 2, 3, 4)]
    assert transfer == [bitmap_op[2]], "the bitmap is transferred, not copied"


def test_an_element_the_app_lets_go_of_is_forgotten_by_the_page(page):
    """The page keeps the tree; a cell the app made and dropped costs nothing in the worker."""
    async def run():
        row = page.document.createElement("tr")
        cell = page.document.createElement("td")
        row.append(cell)
        page.document.getElementById("status").append(row)
        refs = row._ref, cell._ref
        del row, cell
        await turn()
        return refs
    refs = asyncio.run(run())
    ops = [op for message, _ in page.posted for op in message["ops"]]
    assert sorted(op[1] for op in ops if op[0] == "forget") == sorted(refs)
    assert ops.index(["forget", refs[1]]) > ops.index(["append", refs[0], refs[1]]), "made and placed first"
