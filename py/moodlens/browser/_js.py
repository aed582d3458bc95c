"""The one place Python meets JavaScript's loose ends: promises that may reject with anything,
JS objects made from keyword arguments, fetches, and background tasks whose failures must be seen.

    stream = await settle(js.navigator.mediaDevices, "getUserMedia", obj(video=True))
    # any rejection, in any engine, raises JsError(name, message): here "NotAllowedError", ...
    response = await fetch_response("https://…")   # FetchError names the URL and the reason
    spawn(coro, on_error)                           # on_error(exc) runs if the task fails

Why ``settle`` exists. Pyodide 0.27.7 wraps every promise a JS call returns in a Python future
whose reject handler converts the rejection value with ``JsProxy_compute_typeflags``
(src/core/jsproxy.c): it becomes a ``JsException`` only if it has ``name`` and ``message`` and
either a ``stack`` or the constructor name ``DOMException``. JavaScriptCore (WebKit, Safari)
gives errors no ``stack`` property, so WebKit's ``OverconstrainedError`` (what getUserMedia
rejects with when there is no camera), and anywhere a plain object, a string or ``undefined``,
fail that check: ``_pyodide/_future_helper.py`` then raises ``TypeError: invalid exception
object`` inside the promise handler, the awaiting coroutine never resumes and the page waits
forever. ``settle`` calls the function from JavaScript (``Array.from``'s mapping callback), so
Pyodide never wraps its promise, and awaits ``Promise.allSettled``, which never rejects; the
rejection value is then read as data, whatever it is. No Python callback is handed to
JavaScript, so nothing here creates a PyProxy.
"""

from __future__ import annotations

import asyncio
import traceback

import js
from pyodide.ffi import JsException, to_js


class JsError(RuntimeError):
    """A JavaScript call that threw or a promise that rejected. ``name`` is the error's name
    (a DOMException name such as ``NotAllowedError``, or ``TypeError``, ``Error``...)."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}" if message else name)
        self.name, self.message = name, message


class FetchError(RuntimeError):
    """A site file that could not be fetched; the message names the URL and why."""


def obj(**values):
    """Keyword arguments -> a plain JS object (nested dicts too)."""
    return to_js(values, dict_converter=js.Object.fromEntries)


def describe(reason) -> tuple[str, str]:
    """(name, message) of anything JavaScript can throw or reject with."""
    if reason is None:
        return "Error", "no reason given"
    if isinstance(reason, str | int | float | bool):
        return "Error", str(reason)
    if isinstance(reason, JsException):
        return str(getattr(reason, "name", "") or "Error"), str(getattr(reason, "message", "") or reason)
    name = _attribute(reason, "name") or _attribute(getattr(reason, "constructor", None), "name") or "Error"
    message = _attribute(reason, "message")
    if message is None:
        try:
            message = str(reason)
        except Exception:  # noqa: BLE001 - an object whose toString throws
            message = ""
    return name, message


def _attribute(value, key: str) -> str | None:
    try:
        found = getattr(value, key, None)
    except Exception:  # noqa: BLE001 - a getter that throws
        return None
    return str(found) if isinstance(found, str) and found else None


async def settle(target, method: str, *args):
    """``await target[method](*args)`` where any throw or rejection raises :class:`JsError`."""
    function = js.Reflect.get(target, method)
    if function is None or not callable(function):
        raise JsError("TypeError", f"{method} is not a function here")
    # Array.from(items, mapFn) calls mapFn(item, index) in JavaScript: fn.apply(target, args).
    apply = js.Function.prototype.apply.bind(function, target)
    try:
        calls = js.Array.from_(js.Array.of(to_js(list(args), dict_converter=js.Object.fromEntries)), apply)
    except JsException as exc:  # a synchronous throw
        raise JsError(*describe(exc)) from None
    outcome = (await js.Promise.allSettled(calls))[0]
    if outcome.status == "fulfilled":
        return outcome.value
    raise JsError(*describe(outcome.reason))


async def fetch_any(url: str):
    """The response for ``url``, whatever its HTTP status; FetchError for a network failure."""
    try:
        return await settle(js, "fetch", url)
    except JsError as exc:
        raise FetchError(f"{url}: could not be downloaded ({exc.message or exc.name})") from None


async def fetch_response(url: str):
    """The response for ``url``; FetchError for a network failure or an HTTP error. (The site's
    own files go through site_files, which also checks them against what build.py wrote.)"""
    response = await fetch_any(url)
    if not response.ok:
        raise FetchError(f"{url}: could not be downloaded (HTTP {response.status})")
    return response


def stored(key: str) -> str | None:
    """A setting from the page's localStorage, as it was when the app started (page.js sends
    them); None where the browser refuses storage. The app runs in a worker, which has none."""
    from . import remote

    value = remote.page.init.get("stored", {}).get(key)
    return None if value is None else str(value)


def store(key: str, value: str | None) -> None:
    """Keep (or, with None, forget) a setting in the page's localStorage; a browser that refuses
    just forgets."""
    from . import remote

    stored_now = remote.page.init.setdefault("stored", {})
    if value is None:
        stored_now.pop(key, None)
    else:
        stored_now[key] = value
    remote.page.op("store", key, value)


def download(filename: str, text: str, mime: str) -> None:
    """Offer ``text`` as a file the person saves (the page makes a Blob URL for it, revoked once
    the click is handled): made on the device, never uploaded."""
    from . import remote

    remote.page.op("download", filename, js.Blob.new(to_js([text]), obj(type=mime)))


def log_error(what: str) -> None:
    """The current exception's traceback, for whoever opens the console."""
    js.console.error(f"Moodlens: {what}\n{traceback.format_exc()}")


def spawn(coro, on_error=None) -> asyncio.Task:
    """Run ``coro`` in the background. An exception that escapes it is never lost: its
    traceback goes to the console and ``on_error(exc)`` runs (a readable status, say)."""
    task = asyncio.ensure_future(coro)

    def finished(done: asyncio.Task) -> None:
        if done.cancelled():
            return
        exc = done.exception()
        if exc is None:
            return
        lines = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        js.console.error(f"Moodlens: a background task failed\n{lines}")
        if on_error is not None:
            on_error(exc)

    task.add_done_callback(finished)
    return task


def load_script(url: str) -> bool:
    """Run the classic script at ``url`` in the worker (``importScripts``); False if it failed."""
    try:
        js.moodlensImportScripts(url)
        return True
    except Exception:  # noqa: BLE001 - a missing or broken file: the caller names it
        return False


async def load_module(url: str):
    """The ES module at ``url``, imported in the worker; None if it failed."""
    try:
        return await settle(js, "moodlensImport", url)
    except JsError:
        return None
