"""The camera as a frame source: getUserMedia, device choice, stopping, errors in words, frames.

    camera = CameraSource(video, canvas, paused=lambda: tab_hidden)
    notes = await camera.open(device_id=None)   # raises CameraError with a readable message
    await camera.devices()                      # [(device_id, label), ...] for the picker
    camera.on_ended(callback)                   # the track ended: unplugged, or taken away
    async for frame in camera.frames(): ...     # the newest frame each time one is asked for
    camera.close()                              # every track stopped: the camera light goes off

``frames()`` follows the video with ``requestVideoFrameCallback`` (``requestAnimationFrame``
where a browser lacks it): asked for a frame, it returns the newest one at once when a frame
was shown since the last, else waits for the next, so an analysis starts on the newest frame
the moment the previous one ends, and frames shown meanwhile are dropped (counted). A frame
crosses into Python once (``FrameGrabber``). The callbacks are proxies made once.
"""

from __future__ import annotations

import asyncio

import numpy as np

from ...frames import Frame
from .. import early_camera
from .._compat import create_proxy, js
from .._js import JsError, obj, settle

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


def _camera_error(exc) -> CameraError:
    """getUserMedia's refusal, with what a person can do about it."""
    return CameraError(exc.name, ADVICE.get(exc.name, f"The camera could not be opened ({exc})."))


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
            stream = await self._early() if device_id is None else None
            stream = stream or await self._request(video)
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
        # The early camera's stream is on screen already: assigning it again would reload the
        # video (a black flash, and new metadata and a first frame to wait for: 30-50 ms here).
        if not js.Object.is_(self.video.srcObject, stream):
            self.video.srcObject = stream
        try:
            await settle(self.video, "play")
        except JsError as exc:
            self.close()
            raise CameraError(exc.name, PLAY_REFUSED if exc.name == "NotAllowedError" else
                              f"The camera's video could not be played ({exc}). Press Start camera to try again.") \
                from None
        return notes

    async def _early(self):
        """The stream boot.js opened while Python booted (Start pressed, or ``?autostart=1``);
        None if there is none. Its refusal is explained as one of our own requests would be."""
        early = early_camera.handle()
        if early is None or not early.promise:
            return None
        try:
            return await settle(early, "take")
        except JsError as exc:
            raise _camera_error(exc) from None

    async def _request(self, video):
        try:
            return await settle(js.navigator.mediaDevices, "getUserMedia", obj(audio=False, video=video))
        except JsError as exc:
            raise _camera_error(exc) from None

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
        """Stop every track (turns the camera light off) and detach the stream. A stream this
        camera does not hold is left on screen: the one boot.js opened, until ``open`` takes it."""
        if self.stream is None:
            return
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
            copied = await copy_rgba(frame, self._buffer, self._rgba, w)
        finally:
            frame.close()
        if not copied:
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


HAVE_CURRENT_DATA = 2  # HTMLMediaElement.readyState: a frame to show
ON_SCREEN = -1  # `presented` of the frame on screen when the loop starts (no callback told of it)


class CameraSource(Camera):
    """The camera (``Camera``) and its frames. ``paused()``: skip frames (a hidden tab, a backend
    being rebuilt); ``interval_ms``: the least time between two frames handed out."""

    def __init__(self, video, canvas, direct: bool = True, video_frame_callback: bool = True,
                 interval_ms: float | None = None, paused=lambda: False):
        super().__init__(video)
        self.grabber = FrameGrabber(video, canvas, direct=direct)
        self.vfc = video_frame_callback
        self.interval_ms = interval_ms or 0.0
        self.paused = paused
        self.dropped_frames = 0  # shown frames no analysis looked at (not those skipped on purpose)
        self._latest = None  # (now_ms, captured_ms, presented) of the newest frame shown
        self._taken = None  # `presented` of the last frame handed out
        self._waiter = None  # a future the next shown frame resolves
        self._handle = None
        self._polled = 0
        self._video_time = None
        self._on_frame = create_proxy(self._frame_shown)
        self._on_animation = create_proxy(self._animation_frame)

    def reset_counts(self) -> None:
        """After a pause: frames not shown while hidden are not dropped ones."""
        self._taken = None

    # -- following the video ----------------------------------------------------------------
    def _follow(self) -> None:
        if self.vfc:
            self._handle = self.video.requestVideoFrameCallback(self._on_frame)
        else:
            self._handle = js.requestAnimationFrame(self._on_animation)

    def _unfollow(self) -> None:
        if self._handle is not None:
            (self.video.cancelVideoFrameCallback if self.vfc else js.cancelAnimationFrame)(self._handle)
            self._handle = None

    def _frame_shown(self, now_ms, metadata) -> None:
        self._follow()
        # When the camera took the frame (Chrome gives it for camera streams), else when it showed.
        captured = float(getattr(metadata, "captureTime", None) or now_ms)
        self._latest = (float(now_ms), captured, int(metadata.presentedFrames))
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _animation_frame(self, now_ms) -> None:
        """requestVideoFrameCallback's stand-in: a frame counts when the video's time moved."""
        time = float(self.video.currentTime)
        if time == self._video_time:
            self._follow()
            return
        self._video_time = time
        self._polled += 1
        self._frame_shown(now_ms, obj(presentedFrames=self._polled))

    async def _next(self):
        while self._latest is None or self._latest[2] == self._taken:
            self._waiter = asyncio.get_event_loop().create_future()
            await self._waiter
        return self._latest

    async def frames(self):
        # The picture on screen already (the early camera's, shown while Python booted) is
        # analysed at once, not after the next frame: the first emotion comes up to a frame sooner.
        now = js.performance.now()
        self._latest = (now, now, ON_SCREEN) if int(self.video.readyState) >= HAVE_CURRENT_DATA else None
        self._taken = None
        self._follow()
        index, last_ms = 0, -1e12
        try:
            while self.stream is not None:
                now_ms, captured, presented = await self._next()
                if self.paused():
                    self._taken = None
                    self._latest = None
                    continue
                if now_ms - last_ms < self.interval_ms:  # skipped on purpose: not a dropped frame
                    self._taken = presented
                    continue
                if self._taken is not None and self._taken != ON_SCREEN:
                    self.dropped_frames += max(0, presented - self._taken - 1)
                self._taken = presented
                grabbing = js.performance.now()
                pixels = await self.grabber.grab()
                if pixels is None:
                    continue
                last_ms = now_ms
                yield Frame(pixels, now_ms, index, captured_ms=captured,
                            grab_ms=js.performance.now() - grabbing)
                index += 1
        finally:
            self._unfollow()
            self._waiter = None
