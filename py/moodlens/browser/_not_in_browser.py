"""Plain CPython's stand-ins for Pyodide's ``js``, ``pyodide_js`` and ``pyodide.ffi``, which
``_compat`` picks outside the browser.

There is no page here: ``js`` and ``pyodide_js`` start empty, so reading a browser API from them
raises AttributeError, as a browser without that API would; a test puts in the few pieces of a
page it needs (tests/unit/fakejs.py). The ``pyodide.ffi`` functions do for Python values what
Pyodide's do: a proxy is callable until ``destroy()``, a once-callable once, ``to_js`` turns
dicts (through ``dict_converter``, as ``Object.fromEntries`` would) and lists over.

    from moodlens.browser._compat import js    # this module's js under CPython
    js.performance = FakePerformance()         # what a test does
"""

from __future__ import annotations

import sys
import types

js = types.ModuleType("js", "No page under plain CPython: a test fills in what it needs.")
pyodide_js = types.ModuleType("pyodide_js", "Pyodide's JavaScript API: absent under plain CPython.")


class JsException(Exception):
    """A JavaScript error that reached Python: its ``name`` and ``message``, as Pyodide's has."""

    def __init__(self, name: str = "Error", message: str = ""):
        super().__init__(f"{name}: {message}" if message else name)
        self.name, self.message = name, message


class _Proxy:
    """A Python callable handed to JavaScript; once destroyed, calling it is an error (as in Pyodide)."""

    def __init__(self, function, once: bool = False):
        self._function, self._once = function, once

    def __call__(self, *args, **kwargs):
        if self._function is None:
            raise RuntimeError("the proxy was destroyed")
        function = self._function
        if self._once:
            self.destroy()
        return function(*args, **kwargs)

    def destroy(self) -> None:
        self._function = None


def create_proxy(function, **_options) -> _Proxy:
    return _Proxy(function)


def create_once_callable(function, **_options) -> _Proxy:
    return _Proxy(function, once=True)


def to_js(value, *, dict_converter=None, **_options):
    if isinstance(value, dict):
        items = [(key, to_js(item, dict_converter=dict_converter)) for key, item in value.items()]
        return dict_converter(items) if dict_converter is not None else dict(items)
    if isinstance(value, list | tuple):
        return [to_js(item, dict_converter=dict_converter) for item in value]
    return value


def install() -> None:
    """Register the stand-ins under the browser's module names (``import js``, ``from
    pyodide.ffi import ...``), unless something real is there already."""
    ffi = types.ModuleType("pyodide.ffi")
    ffi.JsException, ffi.create_proxy, ffi.create_once_callable, ffi.to_js = (
        JsException, create_proxy, create_once_callable, to_js)
    pyodide = types.ModuleType("pyodide")
    pyodide.ffi = ffi
    for name, module in {"js": js, "pyodide_js": pyodide_js, "pyodide": pyodide, "pyodide.ffi": ffi}.items():
        sys.modules.setdefault(name, module)
