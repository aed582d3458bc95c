"""The camera Start opened before the app was up (page.js opens it at once, while Python boots),
handed over to the app once it is up.

page.js answers Start until ``hand_over()``; the app's camera then takes the open stream as its
own (``sources/camera.py``: ``camera.take``) and analyses it. A start-up that fails lets the
camera go (``let_go()``): nothing would analyse it.

    open_now()          # ?autostart=1: the camera starts while NumPy and the models load
    await started()     # True: Start was pressed while Python booted, its camera stays on
    hand_over()         # Start is the app's from now on
"""

from __future__ import annotations

from . import remote
from ._js import spawn

WIDTH, HEIGHT = 640, 480
FRONT = {"width": {"ideal": WIDTH}, "height": {"ideal": HEIGHT}, "facingMode": "user"}


def open_now() -> None:
    """Start the camera now (``?autostart=1``), unless Start already did (page.js then keeps
    the stream it has)."""
    spawn(remote.page.call("camera.early", FRONT), on_error=lambda exc: None)  # the app explains a refusal


async def started() -> bool:
    """True when the page has a camera open or opening (Start pressed while Python booted)."""
    return bool(await remote.page.call("camera.started"))


def hand_over() -> None:
    remote.page.op("handOver", None)


def let_go() -> None:
    remote.page.op("failed", None)  # a camera opened while Python booted is let go; Start now reloads
