"""A video file, decoded on the device frame by frame, as fast as the device allows.

    video = VideoFile(file, every=1)          # or target_fps=10: the first frame of each 0.1 s
    info = await video.open()                 # SourceInfo; VideoError says what is wrong
    async for frame in video.frames(): ...    # Frame: RGBA pixels, media time, frame number
    await video.close()

The container (MP4, MOV, WebM, MKV) is read by Mediabunny (npm ``mediabunny``, MPL-2.0, made
for WebCodecs; 144 KB brotli, loaded on first use by ``mediabunny.mjs``): it hands the
encoded frames to the browser's own decoder (``VideoDecoder``) and gives them back in
presentation order with their timestamps. Reading containers by hand would mean MP4 edit lists,
B-frame reordering, fragmented MP4 from Safari's recorder and WebM without cues from Chrome's:
the library is maintained for exactly that. The file is read in slices as decoding goes (a
``Blob``), never whole into memory. Each frame to analyse is copied out once
(``VideoSample.copyTo`` into one reused buffer); frames not analysed (``every``,
``target_fps``) are decoded (later frames depend on them) but never copied. A video whose
frames are rotated, or larger than ``MAX_SIDE``, goes through Mediabunny's ``CanvasSink``,
which turns and shrinks it; boxes stay in the original's pixels (``Frame.scale``).
"""

from __future__ import annotations

import time

import numpy as np

from ...frames import Frame, SourceInfo, every_nth
from .._compat import js
from .._js import JsError, describe, load_module, obj, settle
from .camera import copy_rgba

LIBRARY = "vendor/mediabunny/mediabunny.min.mjs"  # an ES module only (MPL-2.0)
_MEDIABUNNY = None
MAX_SIDE = 1920  # a 4K frame is analysed at 1920 px: faces stay findable, decoding stays fast
FORMATS = "MP4, MOV, WebM or MKV"


class VideoError(Exception):
    """A file that cannot be analysed; the message is for the person who chose it."""


async def load_library():
    """Mediabunny, imported into the worker the first time a video is chosen."""
    global _MEDIABUNNY
    if _MEDIABUNNY is None:
        _MEDIABUNNY = await load_module(LIBRARY)
        if _MEDIABUNNY is None:
            raise VideoError(f"the video reader ({LIBRARY}) could not be loaded")
    return _MEDIABUNNY


class VideoFile:
    def __init__(self, file, every: int = 1, target_fps: float | None = None):
        self.file, self.name = file, str(file.name)
        self.every, self.target_fps = max(1, int(every)), target_fps
        self.input = self.track = self.info = None
        self.scale = 1.0
        self._rotated = False
        self._buffer = None
        self._pixels = None
        self._direct = True  # copyTo in RGBA, until the browser shows it does not convert
        self._rgba = obj(format="RGBA")
        self._canvas = self._context = None
        self.decoded = 0  # frames the decoder gave back (all of them, analysed or not)
        self.last_time_s = 0.0
        self.decode_s = 0.0  # time spent waiting for the decoder (reading, demuxing, decoding)
        self.copy_s = 0.0  # time spent copying analysed frames out of it

    async def open(self) -> SourceInfo:
        if int(self.file.size) == 0:
            raise VideoError(f"{self.name} is empty (0 bytes)")
        mb = await load_library()
        self.input = mb.Input.new(obj(source=mb.BlobSource.new(self.file), formats=mb.ALL_FORMATS))
        try:
            self.track = await settle(self.input, "getPrimaryVideoTrack")
        except JsError as exc:
            raise VideoError(f"{self.name} is not a video this browser can read ({FORMATS}), or it is damaged "
                             f"({exc.message or exc.name})") from None
        if self.track is None:
            raise VideoError(f"{self.name} has no video track")
        codec = await self._ask("getCodec")
        if not await self._ask("canDecode"):
            raise VideoError(f"{self.name}: this browser cannot decode its video ({codec or 'an unknown codec'}); "
                             "try Chrome, or convert it to H.264 or VP9")
        width, height = int(await self._ask("getDisplayWidth")), int(await self._ask("getDisplayHeight"))
        self._rotated = int(await self._ask("getRotation") or 0) % 180 != 0
        if self._rotated:
            width, height = height, width
        first = float(await self._ask("getFirstTimestamp") or 0.0)
        duration = float(await self._ask("computeDuration")) - first
        stats = await self._ask("computePacketStats", 240)
        rate = float(stats.averagePacketRate) if stats is not None and stats.averagePacketRate else None
        if duration <= 0 or not int(stats.packetCount if stats is not None else 0):
            raise VideoError(f"{self.name} has no frames (a zero-length video)")
        frames = round(duration * rate) if rate else None
        notes = []
        if max(width, height) > MAX_SIDE:
            self.scale = MAX_SIDE / max(width, height)
            notes.append(f"{self.name} is {width}×{height}; analysed at {round(width * self.scale)}×"
                         f"{round(height * self.scale)} (boxes are in the original's pixels).")
        self.info = SourceInfo(self.name, width, height, frames, round(duration, 3),
                               round(rate, 3) if rate else None, tuple(notes))
        return self.info

    async def _ask(self, method: str, *args):
        try:
            return await settle(self.track, method, *args)
        except JsError as exc:
            raise VideoError(f"{self.name} could not be read ({exc}); it may be damaged or truncated") from None

    async def frames(self):
        """Every frame to analyse, in presentation order, with its media time."""
        mb = _MEDIABUNNY
        canvas = self._rotated or self.scale != 1.0
        if canvas:
            w, h = round(self.info.width * self.scale), round(self.info.height * self.scale)
            sink = mb.CanvasSink.new(self.track, obj(width=w, height=h, fit="fill", poolSize=2))
            items = sink.canvases()
        else:
            items = mb.VideoSampleSink.new(self.track).samples()
        last_ms = None
        try:
            while True:
                waiting = time.perf_counter()
                try:
                    step = await settle(items, "next")
                    self.decode_s += time.perf_counter() - waiting
                except JsError as exc:
                    raise VideoError(f"{self.name} is damaged at {self.last_time_s:.2f} s ({exc}); "
                                     "what came before it was analysed") from None
                if step.done:
                    return
                item, index = step.value, self.decoded
                self.decoded += 1
                time_ms = float(item.timestamp) * 1000.0
                self.last_time_s = time_ms / 1000.0
                try:
                    if not every_nth(index, self.every, self.target_fps, time_ms, last_ms):
                        continue
                    last_ms = time_ms
                    copying = time.perf_counter()
                    pixels = self._from_canvas(item.canvas) if canvas else await self._copy(item)
                    self.copy_s += time.perf_counter() - copying
                finally:
                    if not canvas:
                        item.close()  # the decoder's buffer goes back at once
                yield Frame(pixels, time_ms, index, scale=self.scale)
        finally:
            try:
                await settle(items, "return")  # stops the decoder when the loop ends early
            except JsError:
                pass

    async def _copy(self, sample) -> np.ndarray:
        """One decoded frame as (H, W, 4) RGBA, through one reused buffer: copied out in RGBA
        where the browser converts (Chromium, Firefox), else drawn into a canvas (WebKit 2.50
        ignores copyTo's ``format`` and hands back the decoder's YUV planes)."""
        w, h = int(sample.displayWidth), int(sample.displayHeight)
        if self._pixels is None or self._pixels.shape[:2] != (h, w):
            self._pixels = np.empty((h, w, 4), dtype=np.uint8)
            self._buffer = js.Uint8Array.new(w * h * 4)
            self._canvas = None
        if self._direct:
            if await copy_rgba(sample, self._buffer, self._rgba, w):
                self._buffer.assign_to(self._pixels)
                return self._pixels
            self._direct = False
        if self._canvas is None:
            self._canvas = js.OffscreenCanvas.new(w, h)
            self._context = self._canvas.getContext("2d", obj(willReadFrequently=True))
        sample.draw(self._context, 0, 0, w, h)
        self._context.getImageData(0, 0, w, h).data.assign_to(self._pixels)
        return self._pixels

    def _from_canvas(self, canvas) -> np.ndarray:
        w, h = int(canvas.width), int(canvas.height)
        if self._pixels is None or self._pixels.shape[:2] != (h, w):
            self._pixels = np.empty((h, w, 4), dtype=np.uint8)
        context = canvas.getContext("2d", obj(willReadFrequently=True))
        context.getImageData(0, 0, w, h).data.assign_to(self._pixels)
        return self._pixels

    async def close(self) -> None:
        if self.input is not None:
            try:
                self.input.dispose()
            except Exception:  # noqa: BLE001 - an older Mediabunny without dispose: nothing held
                pass
            self.input = None


def describe_error(exc: BaseException) -> str:
    """A readable line for anything a video can throw."""
    if isinstance(exc, VideoError):
        return str(exc)
    name, message = describe(exc)
    return f"{name}: {message}"
