"""What tests and curious people see in ``#results.diagnostics``: tensors, heaps, proxies, the
backend and why, the capabilities, dropped frames.

    diagnostics = Diagnostics(cfg.debug, registry)
    payload["diagnostics"] = diagnostics.snapshot(dropped_frames, timeline_rows)

Pyodide's PyProxy allocation tracing keeps a stack trace per proxy, so it is on only with
``?debug=1``.
"""

from __future__ import annotations

import gc

from . import tfjs
from ._compat import js, pyodide_js
from .registry import ModelRegistry


class Diagnostics:
    def __init__(self, debug: bool, registry: ModelRegistry):
        module = getattr(pyodide_js, "_module", None)
        self._proxies = None
        if debug and module is not None and hasattr(module, "enable_pyproxy_allocation_tracing"):
            module.enable_pyproxy_allocation_tracing()  # Pyodide 0.27's own (private) bookkeeping
            self._proxies = getattr(module, "pyproxy_alloc_map", None)
        self._module = module
        self._debug = debug
        self._registry = registry
        self._objects = (-1e9, None)
        self._backend_json: tuple = (None, {})

    def _py_objects(self) -> int | None:
        """With ?debug=1, the Python objects still reachable (counted at most once a second,
        after a full collection: walking them all takes a few milliseconds). A leak of Python
        objects shows here before the wasm heap, which grows in 20% steps and never shrinks.
        The collection first: garbage in reference cycles (asyncio's futures and the page
        calls' replies make some every frame) waits for the collector's next full pass, and
        is not a leak."""
        if not self._debug:
            return None
        now = js.performance.now()
        if now - self._objects[0] > 1000:
            gc.collect()
            self._objects = (now, len(gc.get_objects()))
        return self._objects[1]

    def _backend(self) -> dict:
        """The backend and the capabilities: they change only when a backend is chosen or
        replaced, so they are made again only then, not for every frame."""
        registry = self._registry
        key = (registry.backend, registry.choice)
        cached = self._backend_json[0]
        if cached is None or cached[0] != key[0] or cached[1] is not key[1]:  # the same Choice object: no change
            choice = registry.diagnostics()
            self._backend_json = (key, {"backend": registry.backend, "backend_how": choice.get("how"),
                                        "backend_reason": choice.get("reason"),
                                        "capabilities": registry.caps.to_json()})
        return self._backend_json[1]

    def snapshot(self, dropped_frames: int, timeline_rows: int = 0, page_heap: int | None = None) -> dict:
        """``page_heap``: the page's JS heap (Chrome only; the app's worker has no
        ``performance.memory``), as page.js reported it with the frame."""
        backend = self._backend()
        return {
            "tensors": tfjs.memory()["tensors"],
            "js_heap_bytes": page_heap,
            "wasm_heap_bytes": int(self._module.HEAP8.length) if self._module else None,
            "tfjs_wasm_heap_bytes": tfjs.wasm_heap_bytes(),
            "py_proxies": int(self._proxies.size) if self._proxies is not None else None,
            "py_objects": self._py_objects(),
            "timeline_rows": timeline_rows,
            "backend": backend["backend"],
            "backend_how": backend["backend_how"],
            "backend_reason": backend["backend_reason"],
            "dropped_frames": dropped_frames,
            "capabilities": backend["capabilities"],
        }
