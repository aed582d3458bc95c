"""The camera: getUserMedia, stopping, errors in words, and frames into NumPy.

    stream = await open_camera(video)        # raises CameraError with a readable message
    grabber = FrameGrabber(video, canvas)
    frame = grabber.grab()                   # (H, W, 4) uint8 RGBA, one buffer reused
    stop_camera(video, stream)               # the camera light goes off

A frame crosses into Python once per inference: drawn into a canvas, read with
``getImageData`` and copied with ``JsBuffer.assign_to`` into a preallocated array.
"""

from __future__ import annotations

import js
import numpy as np
from pyodide.ffi import JsException, to_js

# What a person can do about each getUserMedia error (DOMException names).
_ADVICE = {
    "NotAllowedError": "Camera permission was denied. Allow the camera for this site (the camera icon in the "
    "address bar) and press Start again.",
    "NotFoundError": "No camera was found. Connect a camera and press Start again.",
    "NotReadableError": "The camera is in use by another application or could not be started. Close other apps "
    "using it and press Start again.",
    "OverconstrainedError": "The camera cannot provide the requested video format.",
    "SecurityError": "The browser blocked camera access on this page (it needs HTTPS or localhost).",
    "AbortError": "The camera could not be started. Press Start to try again.",
}


class CameraError(RuntimeError):
    """getUserMedia failed; ``str()`` is a message for people, ``name`` the DOMException name."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def _js_object(value: dict):
    return to_js(value, dict_converter=js.Object.fromEntries)


def camera_available() -> str | None:
    """None when the page can ask for a camera, else why not."""
    if not js.window.isSecureContext:
        return "The camera needs a secure page: open it over HTTPS or on localhost."
    if not hasattr(js.navigator, "mediaDevices") or not hasattr(js.navigator.mediaDevices, "getUserMedia"):
        return "This browser has no camera API (navigator.mediaDevices.getUserMedia)."
    return None


async def open_camera(video, width: int = 640, height: int = 480):
    """Ask for the front camera, play it in ``video`` and return the MediaStream."""
    unavailable = camera_available()
    if unavailable:
        raise CameraError("NotSupportedError", unavailable)
    constraints = _js_object(
        {"audio": False, "video": {"facingMode": "user", "width": {"ideal": width}, "height": {"ideal": height}}}
    )
    try:
        stream = await js.navigator.mediaDevices.getUserMedia(constraints)
    except JsException as exc:
        name = getattr(exc, "name", "Error")
        raise CameraError(name, _ADVICE.get(name, f"The camera could not be opened ({name}: {exc.message}).")) from None
    video.srcObject = stream
    await video.play()
    return stream


def stop_camera(video, stream) -> None:
    """Stop every track (turns the camera light off) and detach the stream."""
    if stream is not None:
        for track in stream.getTracks():
            track.stop()
    video.srcObject = None


class FrameGrabber:
    """Copies the current video frame into one reused (H, W, 4) uint8 array."""

    def __init__(self, video, canvas):
        self.video, self.canvas = video, canvas
        self.context = canvas.getContext("2d", _js_object({"willReadFrequently": True}))
        self.frame = None

    def grab(self):
        """The current frame, or None when the video has none (not started, or just stopped)."""
        w, h = int(self.video.videoWidth), int(self.video.videoHeight)
        if w == 0 or h == 0:
            return None
        if self.frame is None or self.frame.shape[:2] != (h, w):
            self.canvas.width, self.canvas.height = w, h
            self.frame = np.empty((h, w, 4), dtype=np.uint8)
        self.context.drawImage(self.video, 0, 0, w, h)
        self.context.getImageData(0, 0, w, h).data.assign_to(self.frame)
        return self.frame
