"""When the backend fails, without a reload: a lost WebGL context, or a camera loop that stalls.

    recovery = Recovery(analysis, camera, hidden=lambda: bool(document.hidden))
    recovery.watch()     # the watchdog, once a second, and the WebGL context's loss, for the app's life

The watchdog's decision is ``Watchdog.check`` (plain Python): the camera running, the page
visible, no recovery under way, yet no result for ``WATCHDOG_MS``? First the loop restarts on
the same backend (a lost frame callback, a promise that never settles); if the next
``WATCHDOG_MS`` bring nothing either, the models move to the next backend that works
(``ModelRegistry.recover``), as after a lost WebGL context. No other backend: the camera stops
and the status says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import tfjs
from ._compat import create_proxy, js
from ._js import spawn

WATCHDOG_MS = 5000
RESTART_LOOP, MOVE_BACKEND = "restart the loop", "move to another backend"


@dataclass(frozen=True)
class Stall:
    action: str  # RESTART_LOOP or MOVE_BACKEND
    seconds: int  # how long no result came


class Watchdog:
    """Counts the time since the last result, while it counts (``check(now, watching=True)``)."""

    def __init__(self, stall_ms: float = WATCHDOG_MS):
        self.stall_ms = stall_ms
        self.last_ms = 0.0
        self.stalls = 0  # in a row, with no result in between

    def result(self, now_ms: float) -> None:
        self.last_ms = now_ms
        self.stalls = 0

    def resume(self, now_ms: float) -> None:
        """The camera (re)started or the page came back: the wait starts afresh."""
        self.last_ms = now_ms

    def check(self, now_ms: float, watching: bool) -> Stall | None:
        """What to do now; None: nothing. Time while not ``watching`` (camera off, page hidden, a
        recovery under way) does not count."""
        if not watching:
            self.last_ms = now_ms
            return None
        stalled = now_ms - self.last_ms
        if stalled < self.stall_ms:
            return None
        self.stalls += 1
        self.last_ms = now_ms
        if self.stalls == 1:
            return Stall(RESTART_LOOP, round(stalled / 1000))
        self.stalls = 0
        return Stall(MOVE_BACKEND, round(stalled / 1000))


class Recovery:
    """``camera``: the camera mode (``running``, ``watchdog``, ``restart()``, ``replay()``,
    ``halt()``). ``on_context_lost(callback)``: TF.js's WebGL context loss (``tfjs``)."""

    def __init__(self, analysis, camera, hidden, on_context_lost=tfjs.on_context_lost):
        self.analysis, self.camera, self.hidden = analysis, camera, hidden
        self.view, self.registry = analysis.view, analysis.registry
        self.on_context_lost = on_context_lost
        self._on_tick = create_proxy(lambda *_: self.tick())  # made once: the page keeps the app

    def watch(self) -> None:
        js.setInterval(self._on_tick, 1000)
        self.on_context_lost(self.context_lost)

    def tick(self):
        """The watchdog's round; returns the recovery it started, if any (an asyncio task)."""
        camera = self.camera
        watching = camera.running and not self.hidden() and not self.analysis.recovering
        stall = camera.watchdog.check(js.performance.now(), watching)
        if stall is None:
            return None
        if stall.action == RESTART_LOOP:
            self.view.add_notes([f"No result for {stall.seconds} s: the analysis loop was restarted."])
            camera.restart()
            spawn(camera.replay())
            return None
        return spawn(self.recover(f"No result for {stall.seconds} s on TF.js {self.registry.backend}"), self.failed)

    def context_lost(self):
        """TF.js's WebGL context is gone; returns the recovery (an asyncio task)."""
        self.analysis.recovering = True  # now, so a frame already in flight fails quietly
        return spawn(self.recover(f"The {self.registry.backend} graphics context was lost"), self.failed)

    async def recover(self, what: str) -> None:
        """Move to the next backend and rebuild the models there; the camera's loop starts again."""
        self.analysis.recovering = True
        try:
            await self.registry.recover(self.registry.backend)
            self.camera.restart()  # an inference caught by the loss may wait forever on its lost tensors
            self.view.add_notes([f"{what}; continuing on TF.js {self.registry.backend}."])
            self.view.show_backend(self.registry.choice)
            self.on_context_lost(self.context_lost)
            if self.camera.running:
                self.analysis.say_running()
        finally:
            self.analysis.recovering = False

    def failed(self, exc: Exception) -> None:
        self.camera.halt()
        self.view.set_state("error", f"The analysis stopped and no other TF.js backend works here: {exc}. "
                                     "Reload the page to try again.")
