"""Frames and where they come from: the one small interface every source of pictures offers.

Contract: a source opens (``SourceInfo``: size, frame count, duration, rate where known), then
``frames()`` yields :class:`Frame` objects — RGBA pixels at the size analysed, the source's own
time in ms (a video's media time, a camera's clock) and its frame number — until it ends or the
consumer stops; ``close()`` frees what it holds. The camera, a video file and a batch of photos
are sources (``moodlens.browser.sources``); :class:`ArrayFrames` is one made of arrays, for tests.

    >>> import asyncio, numpy as np
    >>> source = ArrayFrames([np.zeros((4, 4, 4), np.uint8)] * 3, fps=10)
    >>> async def times():
    ...     await source.open()
    ...     return [f.time_ms async for f in source.frames()]
    >>> asyncio.run(times())
    [0.0, 100.0, 200.0]
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Frame:
    pixels: np.ndarray | None  # (H, W, 4) uint8 RGBA at the analysed size; None with ``error``
    time_ms: float  # the source's time: media time for a file, the clock for a camera
    index: int  # the source's frame number, from 0 (skipped frames keep their numbers)
    scale: float = 1.0  # analysed size / original size: boxes in original pixels are box / scale
    captured_ms: float | None = None  # when a camera captured it (performance.now()), for latency
    grab_ms: float = 0.0  # how long copying it out of the browser took
    name: str = ""  # a photo's file name
    original: tuple[int, int] | None = None  # a photo's (width, height) before any shrinking
    error: str | None = None  # a frame that could not be read (a damaged photo), said to the person
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceInfo:
    name: str
    width: int  # original pixels
    height: int
    frames: int | None = None  # how many frames the source has, when known
    duration_s: float | None = None
    frame_rate: float | None = None
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"name": self.name, "width": self.width, "height": self.height, "frames": self.frames,
                "duration_s": self.duration_s, "frame_rate": self.frame_rate}


class FrameSource(Protocol):
    async def open(self) -> SourceInfo: ...

    def frames(self) -> AsyncIterator[Frame]: ...

    async def close(self) -> None: ...


class ArrayFrames:
    """A source made of arrays (tests, and anything already in memory): frame i at i/fps s."""

    def __init__(self, frames: list[np.ndarray], fps: float = 30.0, name: str = "arrays"):
        self._frames, self.fps, self.name = frames, fps, name
        self.closed = False

    async def open(self) -> SourceInfo:
        h, w = self._frames[0].shape[:2] if self._frames else (0, 0)
        return SourceInfo(self.name, w, h, len(self._frames), len(self._frames) / self.fps, self.fps)

    async def frames(self):
        for i, pixels in enumerate(self._frames):
            yield Frame(pixels, i * 1000.0 / self.fps, i)

    async def close(self) -> None:
        self.closed = True


def every_nth(index: int, every: int = 1, target_fps: float | None = None, time_ms: float = 0.0,
              last_ms: float | None = None) -> bool:
    """Whether a file's frame is analysed: every ``every``-th frame, or, with ``target_fps``, the
    first frame of each 1/target_fps-second slot of media time (``last_ms``: the last analysed).

    >>> [i for i in range(7) if every_nth(i, every=3)]
    [0, 3, 6]
    >>> every_nth(1, target_fps=10, time_ms=33.3, last_ms=0.0), every_nth(3, target_fps=10, time_ms=100.0, last_ms=0.0)
    (False, True)
    """
    if target_fps:
        def slot(ms: float) -> int:
            return int(ms * target_fps / 1000.0 + 1e-6)
        return last_ms is None or slot(time_ms) > slot(last_ms)
    return index % max(1, every) == 0
