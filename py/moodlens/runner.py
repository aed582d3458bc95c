"""One loop for every source: frames in, through the pipeline, results out to the sinks.

Contract: an opened :class:`~moodlens.frames.FrameSource`, an ``analyse(frame) -> result``
coroutine (the pipeline step, on whatever model is current) and sinks (drawing, the timeline,
``#results``, progress) -> each frame analysed in turn, each result handed to every sink,
and a :class:`Report` at the end. The loop stops when the source ends, when ``cancel()`` is
called (between frames: what was analysed stays), or after ``max_errors`` failures in a row;
one failure alone goes to ``on_error`` and the loop goes on. ``analyse`` may return None to
drop a frame (the backend is being rebuilt, say).

    runner = Runner(source, analyse, [view, timeline_sink])
    report = await runner.run()          # Report(frames=…, analysed=…, seconds=…, cancelled=…)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from .frames import Frame, FrameSource


@dataclass
class Report:
    frames: int = 0  # frames the source went through (the highest frame number seen + 1)
    analysed: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    error: str | None = None


class Sink(Protocol):
    def result(self, frame: Frame, result) -> None: ...


class Runner:
    def __init__(self, source: FrameSource, analyse, sinks: list, on_error=None, max_errors: int = 5,
                 clock=time.perf_counter):
        self.source, self.analyse, self.sinks = source, analyse, list(sinks)
        self.on_error = on_error
        self.max_errors = max_errors
        self.clock = clock
        self.report = Report()
        self._cancelled = False

    def cancel(self) -> None:
        """Stop after the frame under way; the results so far stay."""
        self._cancelled = True

    async def run(self) -> Report:
        report, started, errors = self.report, self.clock(), 0
        frames = self.source.frames()
        try:
            async for frame in frames:
                report.frames = max(report.frames, frame.index + 1)
                if self._cancelled:
                    break
                result = None
                if frame.error is None:
                    try:
                        result = await self.analyse(frame)
                    except Exception as exc:  # noqa: BLE001 - one bad frame must not end a session
                        errors += 1
                        if self.on_error is not None:
                            self.on_error(exc)
                        if errors >= self.max_errors:
                            report.error = str(exc)
                            break
                        continue
                    if result is None:
                        continue
                    errors = 0
                    report.analysed += 1
                for sink in self.sinks:
                    sink.result(frame, result)
                if self._cancelled:
                    break
        finally:
            await _close(frames)
            report.cancelled = self._cancelled
            report.seconds = self.clock() - started
        return report


async def _close(generator) -> None:
    """Let an async generator clean up (a decoder, a camera callback) even when left early."""
    close = getattr(generator, "aclose", None)
    if close is not None:
        await close()
