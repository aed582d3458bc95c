"""Switching the emotion model while the app runs: one from the site's list, or a person's own.

    switch = ModelSwitch(analysis, document)
    await switch.pick()          # the picker's model: loaded, warmed up, swapped in; the address keeps it
    await switch.use_own()       # model files chosen from the person's disk (read in the page, never uploaded)
    await switch.switch("your model", load)   # what both do: True when the new model is in use

A model is loaded and warmed up while the old one runs, then swapped in between two frames (the
faces keep their ids). A model that fails leaves the current one running and says why. The old
model is retired (``ModelRegistry.replace``): freed at once, or, while a camera frame, a photo
or a video still holds it (``Model.lease``), when the last of them is done.
"""

from __future__ import annotations

from . import tfjs
from . import remote
from ._compat import js


class ModelSwitch:
    def __init__(self, analysis, document):
        self.analysis, self.view, self.registry = analysis, analysis.view, analysis.registry
        self.picker, self.own_input = document.getElementById("model"), document.getElementById("own-model")
        self.busy = False  # a model is loading: the pickers wait

    async def pick(self) -> None:
        """The model chosen in the picker; the address keeps the choice."""
        model_id = str(self.picker.value)
        if self.analysis.emotion is not None and model_id == self.analysis.emotion.manifest.id:
            return
        if await self.switch(model_id, lambda: self.registry.load(model_id)):
            url = js.URL.new(remote.page.init["href"])
            url.searchParams.set("model", model_id)
            remote.page.init["href"] = str(url.href)
            remote.page.op("address", str(url.href))

    async def use_own(self) -> None:
        from .own_model import from_files

        files = self.own_input.files
        if not files or not files.length:
            return

        async def load():
            manifest, read = await from_files(files)
            return await tfjs.Model.load(f"your {manifest.entry}", manifest, read)

        try:
            await self.switch("your model", load, own=True)
        finally:
            self.own_input.value = ""  # the same files can be chosen again

    async def switch(self, name: str, load, own: bool = False) -> bool:
        """Load (``await load()``) and warm up another emotion model, then put it in use."""
        if self.busy:
            return False
        self.busy = True
        analysis, view = self.analysis, self.view
        current = analysis.emotion.manifest.id
        view.set_models_enabled(False)
        state = view.state
        view.set_state(state, f"Loading {name}…")
        model = None
        try:
            model = await load()
            await model.warm_up()
        except Exception as exc:  # noqa: BLE001 - a bad model must not stop the running one
            if model is not None:
                model.dispose()
            view.add_notes([f"Could not use {name}: {exc}. Still using {current}."])
            view.show_models(None, current)
            analysis.say_idle(state)
            return False
        finally:
            self.busy = False
        old = analysis.emotion
        analysis.use_emotion(model)
        self.registry.replace(old, model)
        view.show_models(None, model.manifest.id, own=model.manifest if own else None)
        analysis.say_idle(state)
        return True
