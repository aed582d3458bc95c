"""The camera: getUserMedia, device choice, stopping, errors in words, frames into NumPy.

    camera = Camera(video)
    notes = await camera.open(device_id=None)   # raises CameraError with a readable message
    await camera.devices()                      # [(device_id, label), ...] for the picker
    camera.on_ended(callback)                   # the track ended: unplugged, or taken away
    camera.close()                              # every track stopped: the camera light goes off

    grabber = FrameGrabber(video, canvas)
    frame = grabber.grab()                      # (H, W, 4) uint8 RGBA, one buffer reused

A frame crosses into Python once per inference: drawn into a canvas, read with
``getImageData`` and copied with ``JsBuffer.assign_to`` into a preallocated array.
"""

from __future__ import annotations

import js
import numpy as np
from pyodide.ffi import create_proxy

from ._js import JsError, obj, settle

WIDTH, HEIGHT = 640, 480

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


def unavailable_reason() -> str | None:
    """None when the page can ask for a camera, else why not and what to do."""
    if not js.window.isSecureContext:
        return (f"The camera only works on a secure page, and {js.location.origin} is not one. "
                "Open Moodlens over HTTPS, or on this computer as http://localhost.")
    devices = getattr(js.navigator, "mediaDevices", None)
    if not devices or not hasattr(devices, "getUserMedia"):
        return "This browser has no camera API (navigator.mediaDevices.getUserMedia). Try a current Chrome, " \
               "Edge, Firefox or Safari."
    return None


class Camera:
    def __init__(self, video):
        self.video = video
        self.stream = None
        self._ended_callback = None
        self._on_ended = create_proxy(self._ended)  # made once; the page owns it

    async def open(self, device_id: str | None = None) -> list[str]:
        """Start the camera (a given one, else the front one) in ``video``; return notes."""
        reason = unavailable_reason()
        if reason:
            raise CameraError("NotSupportedError", reason)
        video = {"width": {"ideal": WIDTH}, "height": {"ideal": HEIGHT}}
        video.update({"deviceId": {"exact": device_id}} if device_id else {"facingMode": "user"})
        notes = []
        self.close()  # some cameras cannot be opened twice: let go of the old stream first
        try:
            stream = await self._request(video)
        except CameraError as exc:
            if exc.name != "OverconstrainedError":
                raise
            # Retry with nothing but the device: any size the camera offers will do.
            try:
                stream = await self._request({"deviceId": {"exact": device_id}} if device_id else True)
            except CameraError as again:
                # WebKit rejects with OverconstrainedError, not NotFoundError, when there is no
                # camera at all: say what a person can act on.
                if again.name == "OverconstrainedError" and not await self.devices():
                    raise CameraError("NotFoundError", ADVICE["NotFoundError"]) from None
                raise
            notes.append("The camera could not give 640×480 video; using its own format.")
        self.stream = stream
        for track in stream.getVideoTracks():
            track.addEventListener("ended", self._on_ended)
        self.video.srcObject = stream
        try:
            await settle(self.video, "play")
        except JsError as exc:
            self.close()
            raise CameraError(exc.name, PLAY_REFUSED if exc.name == "NotAllowedError" else
                              f"The camera's video could not be played ({exc}). Press Start camera to try again.") \
                from None
        return notes

    async def _request(self, video):
        try:
            return await settle(js.navigator.mediaDevices, "getUserMedia", obj(audio=False, video=video))
        except JsError as exc:
            raise CameraError(exc.name, ADVICE.get(exc.name, f"The camera could not be opened ({exc}).")) from None

    def device_id(self) -> str | None:
        """The open camera's device id; None for a stream that names none (Firefox gives canvas
        and some virtual-camera tracks no ``deviceId``)."""
        if self.stream is None:
            return None
        tracks = self.stream.getVideoTracks()
        if not tracks.length:
            return None
        found = getattr(tracks[0].getSettings(), "deviceId", None)
        return str(found) if found else None

    async def devices(self) -> list[tuple[str, str]]:
        """The cameras the browser lists (labels appear once permission is granted); [] when it
        lists none or will not say."""
        try:
            found = await settle(js.navigator.mediaDevices, "enumerateDevices")
        except JsError:
            return []
        cameras = [d for d in found if d.kind == "videoinput"]
        return [(str(d.deviceId), str(d.label) or f"Camera {i + 1}") for i, d in enumerate(cameras)]

    def on_ended(self, callback) -> None:
        self._ended_callback = callback

    def _ended(self, event) -> None:
        if self._ended_callback is not None:
            self._ended_callback()

    def close(self) -> None:
        """Stop every track (turns the camera light off) and detach the stream."""
        if self.stream is not None:
            for track in self.stream.getTracks():
                track.removeEventListener("ended", self._on_ended)
                track.stop()
        self.stream = None
        self.video.srcObject = None


class FrameGrabber:
    """Copies the current video frame into one reused (H, W, 4) uint8 array.

    Straight from the video's frame buffer where the browser can (WebCodecs' ``VideoFrame``
    with ``copyTo(…, {format: "RGBA"})``): 0.3 ms for 640×480 here in Chromium and WebKit,
    against 7-9 ms through a canvas (``drawImage`` + ``getImageData``), and far more in WebKit
    while the page renders on a software GPU. Through the canvas otherwise: a browser without
    it, a frame that carries a rotation or a size other than the video's, any failure (then
    for good), and always without ``direct`` (the browser's FaceDetector reads that canvas)."""

    def __init__(self, video, canvas, direct: bool = True):
        self.video, self.canvas = video, canvas
        self.context = canvas.getContext("2d", obj(willReadFrequently=True))
        self.frame = None
        self.direct = direct
        self._buffer = None  # the Uint8Array copyTo fills
        self._rgba = obj(format="RGBA")

    async def grab(self):
        """The current frame, or None when the video has none (not started, or just stopped)."""
        w, h = int(self.video.videoWidth), int(self.video.videoHeight)
        if w == 0 or h == 0:
            return None
        if self.frame is None or self.frame.shape[:2] != (h, w):
            self.canvas.width, self.canvas.height = w, h
            self.frame = np.empty((h, w, 4), dtype=np.uint8)
            self._buffer = js.Uint8Array.new(w * h * 4)
        if self.direct and await self._copy(w, h):
            return self.frame
        self.context.drawImage(self.video, 0, 0, w, h)
        self.context.getImageData(0, 0, w, h).data.assign_to(self.frame)
        return self.frame

    async def _copy(self, w: int, h: int) -> bool:
        try:
            frame = js.VideoFrame.new(self.video)
        except Exception:  # noqa: BLE001 - no frame to wrap (yet): the canvas will do
            self.direct = False
            return False
        try:
            rect = frame.visibleRect
            if int(rect.width) != w or int(rect.height) != h or int(getattr(frame, "rotation", 0) or 0):
                self.direct = False  # the canvas applies what the frame asks for; copyTo does not
                return False
            await settle(frame, "copyTo", self._buffer, self._rgba)
        except JsError:  # RGBA conversion not offered by this browser
            self.direct = False
            return False
        finally:
            frame.close()
        self._buffer.assign_to(self.frame)
        return True
