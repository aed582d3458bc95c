"""What this browser can do, probed once at start-up; the one module that sniffs capabilities.

    caps = probe()                 # -> moodlens.backends.Capabilities
    caps.webgl, caps.wasm_simd     # "webgl2", True ...
    engine_name()                  # "Chromium 156", "Firefox 153", "WebKit 605.1.15" (for notes)

The app runs in a worker: WebGL is probed there, on a throwaway OffscreenCanvas whose context is released at once (browsers cap live
contexts). JSPI is read from ``moodlensJspi``, which worker.js sets before hiding the
feature from Pyodide (see boot.js for why).
"""

from __future__ import annotations

import re

from ..backends import Capabilities
from ._compat import js

# The smallest module using a SIMD instruction (v128.const; i32x4.extract_lane), as TF.js and
# wasm-feature-detect check it: WebAssembly.validate answers without compiling anything.
_SIMD_MODULE = bytes([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0,
                      253, 15, 253, 98, 11])


def _webgl() -> tuple[str | None, str]:
    canvas = js.OffscreenCanvas.new(1, 1)  # in the worker, where TF.js's WebGL backend would run
    kind, gl = "webgl2", canvas.getContext("webgl2")
    if not gl:
        kind, gl = "webgl", canvas.getContext("webgl")
    if not gl:
        return None, ""
    renderer = ""
    info = gl.getExtension("WEBGL_debug_renderer_info")
    if info:
        renderer = str(gl.getParameter(info.UNMASKED_RENDERER_WEBGL) or "")
    lose = gl.getExtension("WEBGL_lose_context")
    if lose:
        lose.loseContext()
    return kind, renderer


def _wasm_simd() -> bool:
    try:
        return bool(js.WebAssembly.validate(js.Uint8Array.new(list(_SIMD_MODULE))))
    except Exception:  # noqa: BLE001 - an engine that throws instead of answering
        return False


def probe() -> Capabilities:
    from . import remote

    page = remote.page.init
    webgl, renderer = _webgl()
    return Capabilities(
        webgl=webgl,
        webgl_renderer=renderer,
        wasm=hasattr(js, "WebAssembly"),
        wasm_simd=_wasm_simd(),
        video_frame_callback=bool(page.get("videoFrameCallback")),  # the page's <video>
        offscreen_canvas=hasattr(js, "OffscreenCanvas"),
        performance_memory=bool(page.get("performanceMemory")),  # the page's (Chrome's)
        jspi=bool(getattr(js, "moodlensJspi", False)),  # worker.js hides it (says why)
        face_detector=hasattr(js, "FaceDetector"),  # in the worker, where it would run
        video_frame_copy=hasattr(js, "VideoFrame"),
        user_agent=str(js.navigator.userAgent),
    )


def engine_name(user_agent: str | None = None) -> str:
    """The browser engine and major version, read from the user agent (for notes only)."""
    ua = user_agent if user_agent is not None else str(js.navigator.userAgent)
    for pattern, name in ((r"Firefox/(\d+)", "Firefox"), (r"Chrom(?:e|ium)/(\d+)", "Chromium"),
                          (r"Version/([\d.]+).*Safari", "Safari"), (r"AppleWebKit/([\d.]+)", "WebKit")):
        found = re.search(pattern, ua)
        if found:
            return f"{name} {found.group(1)}"
    return "this browser"
