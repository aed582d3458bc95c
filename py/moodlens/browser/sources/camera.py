"""The camera as a frame source: getUserMedia, device choice, stopping, errors in words, frames.

    camera = CameraSource(paused=lambda: tab_hidden)
    notes = await camera.open(device_id=None)   # raises CameraError with a readable message
    await camera.devices()                      # [(device_id, label), ...] for the picker
    camera.on_ended(callback)                   # the track ended: unplugged, or taken away
    async for frame in camera.frames(): ...     # the newest frame each time one is asked for
    camera.close()                              # every track stopped: the camera light goes off

The app runs in a worker; the camera, its stream and its <video> are the page's (site/page.js),
asked for by message (``remote.page.call``). Asked for a frame, page.js answers at once with the
newest frame the video presented since the last one handed out, else with the next one, so an
analysis starts on the newest frame the moment the previous one ends, and frames shown
meanwhile are dropped (counted). The frame crosses as a ``VideoFrame``, transferred, not
copied (an ``ImageBitmap`` where a browser has no VideoFrame), and becomes NumPy pixels here
(``FrameReader``).
"""

from __future__ import annotations

import numpy as np

from ...frames import Frame
from .. import early_camera, remote
from .._compat import js
from .._js import JsError, obj, settle

WIDTH, HEIGHT = early_camera.WIDTH, early_camera.HEIGHT

# What a person can do about each getUserMedia error (DOMException names).
ADVICE = {
    "NotAllowedError": "Camera permission was denied. Allow the camera for this site (the camera icon in the "
    "address bar, or the browser's site settings) and press Start camera again.",
    "NotFoundError": "No camera was found. Connect a camera and press Start camera again.",
    "NotReadableError": "The camera is busy or could not be started: another application or tab may be using it. "
    "Close it and press Start camera again.",
    "OverconstrainedError": "This camera cannot provide any video format the page can use.",
    "SecurityError": "The browser blocked camera access on this page.",
    "AbortError": "The camera could not be started. Press Start camera to try again.",
}
# video.play() refused: the browser wants a click first (autoplay policy), or the stream went away.
PLAY_REFUSED = "The browser did not let the video play without a click. Press Start camera."
ENDED = "The camera stopped: it was unplugged, switched off or taken by another application. " \
        "Reconnect it and press Start camera."


class CameraError(RuntimeError):
    """Opening the camera failed; ``str()`` is a message for people, ``name`` the DOMException name."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def _camera_error(exc) -> CameraError:
    """getUserMedia's refusal, with what a person can do about it."""
    return CameraError(exc.name, ADVICE.get(exc.name, f"The camera could not be opened ({exc})."))


def unavailable_reason() -> str | None:
    """None when the page can ask for a camera, else why not and what to do."""
    init = remote.page.init
    if not init.get("secure"):
        return (f"The camera only works on a secure page, and {init.get('origin')} is not one. "
                "Open Moodlens over HTTPS, or on this computer as http://localhost.")
    if not init.get("camera"):
        return "This browser has no camera API (navigator.mediaDevices.getUserMedia). Try a current Chrome, " \
               "Edge, Firefox or Safari."
    return None


class Camera:
    def __init__(self):
        self.open_id: str | None = None  # the open camera's device id ("" when it names none)
        self.is_open = False
        self._ended_callback = None
        remote.page.on_camera_ended = self._ended

    async def open(self, device_id: str | None = None) -> list[str]:
        """Start the camera (a given one, else the front one) in the page's video; return notes."""
        reason = unavailable_reason()
        if reason:
            raise CameraError("NotSupportedError", reason)
        video = dict(early_camera.FRONT)
        if device_id:
            video = {"width": {"ideal": WIDTH}, "height": {"ideal": HEIGHT}, "deviceId": {"exact": device_id}}
        notes = []
        try:
            opened = await self._early() if device_id is None else None
            opened = opened or await self._request(video)
        except CameraError as exc:
            if exc.name != "OverconstrainedError":
                raise
            # Retry with nothing but the device: any size the camera offers will do.
            try:
                opened = await self._request({"deviceId": {"exact": device_id}} if device_id else True)
            except CameraError as again:
                # WebKit rejects with OverconstrainedError, not NotFoundError, when there is no
                # camera at all: say what a person can act on.
                if again.name == "OverconstrainedError" and not await self.devices():
                    raise CameraError("NotFoundError", ADVICE["NotFoundError"]) from None
                raise
            notes.append("The camera could not give 640×480 video; using its own format.")
        self.is_open = True
        self.open_id = str(opened.deviceId) if getattr(opened, "deviceId", None) else None
        return notes

    async def _early(self):
        """The camera Start (or ``?autostart=1``) opened while Python booted; None if there is none.
        Its refusal is explained as one of our own requests would be."""
        try:
            return await remote.page.call("camera.take")
        except JsError as exc:
            raise _camera_error(exc) from None

    async def _request(self, video):
        try:
            return await remote.page.call("camera.open", video)
        except JsError as exc:
            if getattr(exc, "play", False):
                raise CameraError(exc.name, PLAY_REFUSED if exc.name == "NotAllowedError" else
                                  f"The camera's video could not be played ({exc}). Press Start camera to try "
                                  "again.") from None
            raise _camera_error(exc) from None

    def device_id(self) -> str | None:
        """The open camera's device id; None for a stream that names none (Firefox gives canvas
        and some virtual-camera tracks no ``deviceId``)."""
        return self.open_id if self.is_open else None

    async def devices(self) -> list[tuple[str, str]]:
        """The cameras the browser lists (labels appear once permission is granted); [] when it
        lists none or will not say."""
        try:
            found = await remote.page.call("camera.devices")
        except JsError:
            return []
        return [(str(d.deviceId), str(d.label) or f"Camera {i + 1}") for i, d in enumerate(found)]

    def on_ended(self, callback) -> None:
        self._ended_callback = callback

    def _ended(self) -> None:
        if self._ended_callback is not None and self.is_open:
            self._ended_callback()

    def close(self) -> None:
        """Stop every track (turns the camera light off) and detach the stream."""
        if not self.is_open:
            return
        self.is_open = False
        remote.page.op("cameraClose", None)

    async def play(self) -> None:
        """A video the browser paused plays again."""
        await remote.page.call("camera.play")


class FrameReader:
    """A frame from the page (a VideoFrame, or an ImageBitmap) into one reused (H, W, 4) uint8 array.

    Straight from the frame's buffer where the browser can (``VideoFrame.copyTo(…, {format:
    "RGBA"})``): 0.3 ms for 640×480 here in Chromium and WebKit. Through an OffscreenCanvas
    (``drawImage`` + ``getImageData``) otherwise: a browser without it or that ignores the format
    (WebKit 2.50 copies the I420 planes), a frame that carries a rotation or a size other than
    the video's, any failure (then for good), and always without ``direct``."""

    def __init__(self, direct: bool = True):
        self.frame = None
        self.direct = direct
        self.canvas = self.context = None
        self._buffer = None  # the Uint8Array copyTo fills
        self._rgba = obj(format="RGBA")

    async def read(self, picture, w: int, h: int):
        """The picture's pixels; it is closed (its memory given back) once read."""
        try:
            if self.frame is None or self.frame.shape[:2] != (h, w):
                self.frame = np.empty((h, w, 4), dtype=np.uint8)
                self._buffer = js.Uint8Array.new(w * h * 4)
            if self.direct and hasattr(picture, "copyTo") and await self._copy(picture, w, h):
                return self.frame
            if self.canvas is None or int(self.canvas.width) != w or int(self.canvas.height) != h:
                self.canvas = js.OffscreenCanvas.new(w, h)
                self.context = self.canvas.getContext("2d", obj(willReadFrequently=True))
            self.context.drawImage(picture, 0, 0, w, h)
            self.context.getImageData(0, 0, w, h).data.assign_to(self.frame)
            return self.frame
        finally:
            picture.close()

    async def _copy(self, frame, w: int, h: int) -> bool:
        rect = frame.visibleRect
        if int(rect.width) != w or int(rect.height) != h or int(getattr(frame, "rotation", 0) or 0):
            self.direct = False  # the canvas applies what the frame asks for; copyTo does not
            return False
        if not await copy_rgba(frame, self._buffer, self._rgba, w):
            self.direct = False
            return False
        self._buffer.assign_to(self.frame)
        return True


async def copy_rgba(frame, buffer, rgba, width: int) -> bool:
    """``frame.copyTo(buffer, rgba)`` (a VideoFrame, or a Mediabunny VideoSample); True when the
    buffer now holds one RGBA plane. False where the browser cannot convert (it rejects) or
    ignores ``format`` (WebKit 2.50 copies the I420 planes): draw through a canvas there."""
    try:
        layout = await settle(frame, "copyTo", buffer, rgba)
        return int(layout.length) == 1 and int(layout[0].stride) == width * 4
    except (JsError, AttributeError, TypeError):
        return False


class CameraSource(Camera):
    """The camera (``Camera``) and its frames. ``paused()``: skip frames (a hidden tab, a backend
    being rebuilt); ``interval_ms``: the least time between two frames handed out."""

    def __init__(self, direct: bool = True, interval_ms: float | None = None, paused=lambda: False):
        super().__init__()
        self.reader = FrameReader(direct=direct)
        self.interval_ms = interval_ms or 0.0
        self.paused = paused
        self.dropped_frames = 0  # shown frames no analysis looked at (not those skipped on purpose)
        self.page_heap: int | None = None  # the page's JS heap in bytes (Chrome's performance.memory), per frame
        self._taken = None  # the number of the last frame handed out

    def reset_counts(self) -> None:
        """After a pause: frames not shown while hidden are not dropped ones."""
        self._taken = None

    async def frames(self):
        # The picture on screen already (the camera Start opened while Python booted) is
        # analysed at once, not after the next frame: the first emotion comes a frame sooner.
        self._taken = None
        index, last_ms = 0, -1e12
        await remote.page.call("camera.follow")  # anew: a loop restarted after a lost frame callback goes on
        while self.is_open:
            shown = await remote.page.call("camera.frame", -1 if self._taken is None else self._taken)
            if shown is None:
                continue  # the camera stopped (the loop ends) or has no frame yet
            presented = int(shown.presented)
            self.page_heap = int(shown.heap) if shown.heap is not None else None
            if self.paused() or not self.is_open:
                shown.picture.close()
                self._taken = None
                continue
            now_ms = float(shown.now)
            if now_ms - last_ms < self.interval_ms:  # skipped on purpose: not a dropped frame
                shown.picture.close()
                self._taken = presented
                continue
            if self._taken is not None:
                self.dropped_frames += max(0, presented - self._taken - 1)
            self._taken = presented
            reading = js.performance.now()
            pixels = await self.reader.read(shown.picture, int(shown.width), int(shown.height))
            last_ms = now_ms
            yield Frame(pixels, now_ms, index, captured_ms=float(shown.captured),
                        grab_ms=js.performance.now() - reading)
            index += 1
