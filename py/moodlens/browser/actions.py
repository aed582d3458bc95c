"""What a person's action leaves behind, whatever happened in it.

Every user action (start, stop, camera pick, model switch, own model, photos, video, landmarks)
runs through ``Actions.run``: whatever escapes is logged with its traceback to the console and
said in ``#status``; a camera start that failed half-way lets the camera go; and afterwards
every control is enabled unless its own task is under way, and a progress message ("…") that
no task will finish gives way to the idle one.

    actions = Actions(view, analysis)
    actions.control(photo_input, disabled_while=lambda: photos.busy)
    listener = actions.handler("Switching the model", lambda event: switch.pick())  # an event listener
    await actions.run("Starting the camera", camera.start)
"""

from __future__ import annotations

from ._compat import create_proxy
from ._js import log_error, spawn


class Actions:
    def __init__(self, view, analysis=None):
        self.view = view
        self.analysis = analysis  # for the idle message; set once start-up has made it
        self.camera = None  # the camera mode, once made
        self.ready = False  # start-up finished: the controls may be used
        self.under_way = 0
        self._controls: list[tuple] = []

    def control(self, element, disabled_while=lambda: False) -> None:
        """``element`` (an <input>, <select>, <button>) is enabled after each action unless
        ``disabled_while()``."""
        self._controls.append((lambda enabled: setattr(element, "disabled", not enabled), disabled_while))

    def control_by(self, enable, disabled_while=lambda: False) -> None:
        """As ``control``, for controls enabled by a function ``enable(bool)``."""
        self._controls.append((enable, disabled_while))

    def handler(self, what: str, action):
        """An event listener (made once) that runs ``action(event)`` through ``run``."""
        return create_proxy(lambda event=None: spawn(self.run(what, action, event)))

    async def run(self, what: str, action, *args) -> None:
        """Run a user action: what escapes it is logged and said; controls and status are
        left in a usable state whatever happened."""
        self.under_way += 1
        try:
            await action(*args)
        except Exception as exc:  # noqa: BLE001 - the page must stay usable
            log_error(f"{what} failed")
            camera = self.camera
            running = camera is not None and camera.running
            if camera is not None and not running:
                camera.halt()  # a start that failed half-way lets go of the camera
            self.view.set_state("running" if running else "error",
                                f"{what} did not work: {exc}. Try again, or reload the page if it keeps happening.")
        finally:
            self.under_way -= 1
            self.settle()

    def settle(self) -> None:
        """Every control enabled unless its own task is under way; a progress message ("…")
        that no task will finish is replaced by the idle one."""
        if not self.ready:
            return
        for enable, disabled_while in self._controls:
            enable(not disabled_while())
        if self.under_way == 0 and str(self.view.status.textContent).endswith("…"):
            self.analysis.say_idle(self.view.state)
