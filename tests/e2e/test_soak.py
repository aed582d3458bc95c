"""Long runs: inference goes on with faces coming and going, and nothing accumulates.

CI runs a short soak (MOODLENS_SOAK_SECONDS, default 45). The full ten minutes:
    MOODLENS_SOAK_SECONDS=600 python3 build.py test -k soak
"""

from __future__ import annotations

import os

from .windows import session

SOAK_SECONDS = float(os.environ.get("MOODLENS_SOAK_SECONDS", "45"))
# Caches, the first chart and Pyodide's heap settle in the first inferences: measure after.
WARM_UP_FRAMES = 150


def measure(app, cdp) -> dict:
    """Diagnostics from the page, with the JS heap measured after a full garbage collection."""
    cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")["usedSize"]
    result = app.results()
    return {**result["diagnostics"], "gc_heap_bytes": heap, "frame": result["frame"]}


def test_long_run_leaks_nothing(open_app):
    app = open_app("?autostart=1&debug=1", video="coming_and_going")  # debug: live Pyodide proxies counted
    app.wait_state("running")
    cdp = app.context.new_cdp_session(app.page)
    app.wait_frames(WARM_UP_FRAMES)
    start = measure(app, cdp)
    session(app.page, SOAK_SECONDS)  # returns once faces have come and gone, too (or fails)
    end = measure(app, cdp)
    print(f"\nsoak {SOAK_SECONDS:.0f} s: start {start}\n  end {end}")

    assert app.state() == "running"
    assert end["frame"] - start["frame"] > SOAK_SECONDS * 5, "inference stalled"
    assert end["tensors"] == start["tensors"]
    assert end["py_proxies"] <= start["py_proxies"]
    # Python objects the garbage collector tracks: flat within a few dozen (faces come and go);
    # one leaked object per frame would add hundreds.
    assert end["py_objects"] - start["py_objects"] < 100
    assert end["gc_heap_bytes"] < start["gc_heap_bytes"] * 1.10
    # The session is recorded (compact rows, ~60 bytes each: a 30-minute session is a few MB) ...
    assert end["timeline_rows"] > start["timeline_rows"]
    # ... and Pyodide's wasm heap never shrinks and grows in 20% steps (Emscripten's geometric
    # growth): the first chart and summary can take one step; a second step here is a leak.
    assert end["wasm_heap_bytes"] <= start["wasm_heap_bytes"] * 1.21, (start["wasm_heap_bytes"], end["wasm_heap_bytes"])
    assert not app.console_errors, app.console_errors
