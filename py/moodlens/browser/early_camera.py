"""The bridge to boot.js's early camera (``window.moodlensEarly``): the camera that Start, or
``?autostart=1``, opens while Python boots, handed over to the app once it is up.

boot.js answers Start until ``hand_over()``; the app's camera takes the early stream as its own
(``sources/camera.py``: ``take()``) and keeps the picture on screen. A start-up that fails lets
the camera go (``let_go()``): nothing would analyse it. On a page without boot.js each of these
does nothing.

    open_now()          # ?autostart=1: the camera starts while NumPy and the models load
    await hold()        # before a long main-thread step: the camera's first frame comes first
    started()           # True: Start was pressed while Python booted, its camera stays on
    hand_over()         # Start is the app's from now on
"""

from __future__ import annotations

from ._compat import js


def handle():
    """boot.js's ``window.moodlensEarly``: ``promise`` (the camera Start opened), ``open()``,
    ``take()``, ``hold()``, ``fail()`` and ``handedOver``; None on a page without boot.js."""
    return getattr(js.window, "moodlensEarly", None)


def open_now() -> None:
    """Start the camera now, without holding the boot (no click waits for it), unless it is on."""
    early = handle()
    if early is not None and not early.promise and hasattr(early, "open"):
        early.open(False)


async def hold() -> None:
    """Wait while the camera Start opened early is starting (boot.js's ``hold()``: until its first
    frame is on screen, at most 1.5 s after the click for all holds together): the start-up step
    that follows is a long main-thread task, and the camera needs the main thread to show its
    first frame."""
    early = handle()
    if early is not None:
        await early.hold()


def started() -> bool:
    early = handle()
    return early is not None and bool(early.promise)


def hand_over() -> None:
    early = handle()
    if early is not None:
        early.handedOver = True  # boot.js's Start handler steps aside


def let_go() -> None:
    early = handle()
    if early is not None:
        early.fail()  # a camera opened while Python booted is let go; Start now tries again
