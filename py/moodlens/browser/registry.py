"""The model registry: which models are loaded, the TF.js backend they run on, and why.

    registry = ModelRegistry(caps)                          # caps from env.probe()
    emotion, detector = await registry.start(cfg.backend, ["fer-mini-xception", "blazeface-short"])
    registry.choice.reason                                  # "fastest measured here: wasm 11.2 ms (vs ...)"
    mesh = await registry.shared("facemesh")                # loaded and warmed on first use, then kept
    registry.replace(old, new)                              # a model switch: old is freed once unused
    await registry.recover("webgl")                         # after a lost WebGL context

The backend: ``?backend=`` forces one; otherwise a choice remembered from an earlier visit
(localStorage, keyed by TF.js version and user agent) is used when it still initialises;
otherwise every backend that initialises runs the real models (``moodlens.backends`` decides
which are worth timing and ranks them) and the fastest is kept and remembered. Every model is
rebuilt from its checked bytes when the backend changes, so a trial downloads nothing twice.

``engine`` is TF.js's backend switch (``tfjs``: ``backend()``, ``set_backend(name)``,
``version()``) and ``load`` reads a site model by id; the unit tests hand in fakes of both
(tests/unit/fakejs.py) and run these decisions under CPython.
"""

from __future__ import annotations

import asyncio

from .. import backends
from ..backends import Capabilities, Choice, Trial
from ..manifest import parse
from . import tfjs
from ._compat import JsException
from ._js import JsError, store, stored
from .site_files import fetch_site_json

TRIAL_TIMEOUT_S = 15.0  # one backend's timing; WebGL on a software renderer took 1-2 s here


async def load_site_model(model_id: str) -> tfjs.Model:
    """Fetch, check and build a model of the site on the current backend."""
    where = f"models/{model_id}/manifest.json"
    manifest = parse(await fetch_site_json(where), where)
    return await tfjs.Model.load(f"models/{model_id}", manifest)


class ModelRegistry:
    def __init__(self, caps: Capabilities, engine=tfjs, load=load_site_model):
        self.caps = caps
        self.engine = engine
        self.load = load  # model id -> a model built on the current backend (not kept)
        self.loaded: list[tfjs.Model] = []
        self.choice: Choice | None = None
        self.notes: list[str] = []

    @property
    def backend(self) -> str:
        return self.choice.backend if self.choice else self.engine.backend()

    # -- the models ---------------------------------------------------------------------
    def keep(self, model: tfjs.Model) -> tfjs.Model:
        self.loaded.append(model)
        return model

    async def shared(self, model_id: str) -> tfjs.Model:
        """A model loaded and warmed up on first use and kept for the app's life (rebuilt with
        the others when the backend changes): landmarks, the photo detectors."""
        for model in self.loaded:
            if model.manifest.id == model_id:
                return model
        model = await self.load(model_id)
        try:
            await model.warm_up()
        except Exception:
            model.dispose()
            raise
        return self.keep(model)

    def replace(self, old: tfjs.Model, new: tfjs.Model) -> None:
        """``new`` takes ``old``'s place; ``old`` is freed when no inference or photo holds it."""
        self.loaded = [m for m in self.loaded if m is not old] + [new]
        old.retire()

    # -- the backend --------------------------------------------------------------------
    async def start(self, forced: str | None, model_ids: list[str], quiet=None) -> list[tfjs.Model]:
        """Pick the backend, load ``model_ids`` (kept), warm them up; returns them in order.
        ``quiet``: an awaitable a backend trial waits for before it times anything (the app's
        other start-up work on the main thread would count against the backend being timed)."""
        key = backends.memory_key(self.engine.version(), self.caps.user_agent)
        remembered = None if forced else backends.recall(stored(backends.STORAGE_KEY), key)
        order = backends.candidates(self.caps, forced or (remembered.backend if remembered else None))
        first, failed = await self._first_working(order)
        models = [self.keep(await self.load(model_id)) for model_id in model_ids]
        self.choice = backends.chosen_without_timing(first, forced, remembered, failed)
        if self.choice is not None:
            if self.choice.how == "fallback":
                # The analysis runs in a worker: a backend the page would have may be missing there
                # (WebGL in WebKitGTK's workers), and the page says so.
                self.notes.append(f"The {forced} backend is not available in this browser's worker, where the "
                                  f"analysis runs; using {first}.")
        else:
            excluded = backends.excluded_from_trial(self.caps)
            rest = backends.to_time_after(first, order, excluded)
            only = backends.only_backend_worth_timing(first, rest, self.caps, failed + excluded)
            if only is not None and await self._runs(models):  # warmed up: nothing more to do
                self.choice = only  # not remembered: nothing was measured, and the next visit decides as fast
                return models
            if quiet is not None:
                await quiet
            self.choice = await self._trial(first, rest, models, failed + excluded)
            store(backends.STORAGE_KEY, backends.remember(self.choice, key))
        await self._warm(models)
        return models

    async def _first_working(self, order: tuple[str, ...]) -> tuple[str, list[Trial]]:
        failed = []
        for name in order:
            error = await self.engine.set_backend(name)
            if error is None:
                return name, failed
            failed.append(Trial(name, error=error))
        raise RuntimeError("No TF.js backend could start (" + "; ".join(t.describe() for t in failed) + ").")

    async def _trial(self, first: str, rest: tuple[str, ...], models: list[tfjs.Model],
                     left_out: list[Trial]) -> Choice:
        """Time the real models on ``first`` (current) and each of ``rest`` that initialises;
        move to the fastest. A backend whose emotion model alone is slower than the best whole
        pass so far is not timed further."""
        emotion = next(m for m in models if m.manifest.kind == "emotion")
        detector = next((m for m in models if m.manifest.kind == "detector"), None)
        trials = list(left_out)
        for name in (first, *rest):
            skip = backends.not_worth_timing(name, self.caps, trials)
            if skip is not None:
                trials.append(skip)
                continue
            if name != first:
                error = await self.engine.set_backend(name)
                if error is None:
                    error = await self._rebuild(models)
                if error is not None:
                    trials.append(Trial(name, error=error))
                    continue
            try:
                trials.append(await asyncio.wait_for(self._time(name, emotion, detector, trials), TRIAL_TIMEOUT_S))
            except (JsError, JsException) as exc:  # the backend cannot run these models
                trials.append(Trial(name, error=str(exc)))
            except asyncio.TimeoutError:  # a backend whose promises never settle
                trials.append(Trial(name, error=f"no answer in {TRIAL_TIMEOUT_S:.0f} s"))
        choice = backends.choose(trials)
        if self.engine.backend() != choice.backend:
            error = await self.engine.set_backend(choice.backend) or await self._rebuild(models)
            if error is not None:
                raise RuntimeError(f"TF.js could not return to the {choice.backend} backend: {error}")
        return choice

    @staticmethod
    async def _time(name: str, emotion: tfjs.Model, detector: tfjs.Model | None, trials: list[Trial]) -> Trial:
        await emotion.warm_up()
        emotion_ms = await emotion.time_ms(runs=1)  # one call decides whether this backend can win
        if not backends.worth_finishing(emotion_ms, trials):
            return Trial(name, emotion_ms=emotion_ms)
        emotion_ms = await emotion.time_ms()
        detector_ms = 0.0
        if detector is not None:
            await detector.warm_up()
            detector_ms = await detector.time_ms()
        return Trial(name, emotion_ms=emotion_ms, detector_ms=detector_ms)

    @classmethod
    async def _runs(cls, models: list[tfjs.Model]) -> bool:
        """Whether the current backend runs ``models`` (each warmed up); False sends the start to
        the trial, which times the next backend, as when a timed backend fails."""
        try:
            await cls._warm(models)
        except (JsError, JsException):
            return False
        return True

    @staticmethod
    async def _rebuild(models: list[tfjs.Model]) -> str | None:
        """Rebuild ``models`` on the current backend; None, or why not."""
        try:
            for model in models:
                await model.reload()
        except tfjs.ModelLoadError as exc:
            return str(exc)
        return None

    async def recover(self, lost: str) -> str:
        """After ``lost`` failed (a lost WebGL context, a loop that stalls): the next backend that
        works, with every kept model rebuilt and warmed up there. Returns the new backend;
        RuntimeError when none works."""
        for name in backends.candidates(self.caps, skip=(lost,)):
            if await self.engine.set_backend(name) is not None or await self._rebuild(self.loaded) is not None:
                continue
            try:
                await asyncio.wait_for(self._warm(self.loaded), TRIAL_TIMEOUT_S)
            except (JsError, JsException, tfjs.ModelLoadError, asyncio.TimeoutError):
                continue
            self.choice = Choice(name, "fallback", f"the {lost} backend failed here; {name} is the next that works")
            return name
        raise RuntimeError(f"no TF.js backend besides {lost} can run the models")

    @staticmethod
    async def _warm(models: list[tfjs.Model]) -> None:
        for model in models:
            await model.warm_up()

    def diagnostics(self) -> dict:
        return self.choice.to_json() if self.choice else {}
