"""The backend the models run on (browser/registry.py), decided under CPython against a fake
TF.js: which backends are timed, which wins and is remembered, and where the models go when
their backend fails."""

from __future__ import annotations

import json

import pytest

from moodlens import backends
from moodlens.backends import Capabilities
from moodlens.browser import registry as registry_module
from moodlens.browser.registry import ModelRegistry

from .fakejs import FakeEngine, FakeModel, install_page, load_manifest
from .helpers import run_async

GPU = Capabilities(webgl="webgl2", webgl_renderer="ANGLE (NVIDIA GeForce RTX 3060)", wasm=True, wasm_simd=True,
                   user_agent="Chromium")
SWIFTSHADER = Capabilities(webgl="webgl2", webgl_renderer="ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device))",
                           wasm=True, wasm_simd=True, user_agent="Chromium")
# Milliseconds per call: the emotion model and the detector on each backend they can run on.
EMOTION_MS = {"wasm": 3.0, "webgl": 1.0, "cpu": 40.0}
DETECTOR_MS = {"wasm": 8.0, "webgl": 2.5, "cpu": 90.0}


@pytest.fixture
def page(monkeypatch):
    return install_page(monkeypatch)


def registry_on(engine: FakeEngine, caps: Capabilities = GPU, emotion_ms=None, detector_ms=None):
    """A registry whose models are FakeModels with the given speeds (made as the registry loads them)."""
    speeds = {"fer-mini-xception": emotion_ms or EMOTION_MS, "blazeface-short": detector_ms or DETECTOR_MS}
    made: dict[str, FakeModel] = {}

    async def load(model_id):
        made[model_id] = FakeModel(load_manifest(model_id), engine, speeds[model_id])
        return made[model_id]

    registry = ModelRegistry(caps, engine=engine, load=load)
    registry.made = made
    return registry


def start(registry, forced=None):
    return run_async(registry.start(forced, ["fer-mini-xception", "blazeface-short"]))


def test_a_first_visit_times_each_backend_and_keeps_and_remembers_the_fastest(page):
    engine = FakeEngine()
    registry = registry_on(engine)
    emotion, detector = start(registry)
    assert registry.choice.backend == "webgl" and registry.choice.how == "measured"
    assert "webgl 3.5 ms" in registry.choice.reason and "wasm 11.0 ms" in registry.choice.reason
    assert engine.current == "webgl", "TF.js is left on the winner"
    assert emotion.model.backend == detector.model.backend == "webgl", "the models are rebuilt there"
    assert [b for b, _ in emotion.timed] == ["wasm", "wasm", "webgl", "webgl"], "cpu is not timed after wasm+SIMD"
    stored = json.loads(page.storage.items[backends.STORAGE_KEY])
    assert stored["backend"] == "webgl" and stored["ms"] == {"wasm": 11.0, "webgl": 3.5}


def test_a_backend_whose_emotion_model_alone_is_slower_is_not_timed_further(page):
    engine = FakeEngine()
    registry = registry_on(engine, emotion_ms={"wasm": 3.0, "webgl": 20.0})
    emotion, detector = start(registry)
    assert registry.choice.backend == "wasm"
    assert emotion.timed == [("wasm", 1), ("wasm", 3), ("webgl", 1)], "one call decided webgl cannot win"
    assert [b for b, _ in detector.timed] == ["wasm"]
    assert engine.current == "wasm" and emotion.model.backend == "wasm", "back on the winner, rebuilt"


def test_with_nothing_to_compare_the_first_backend_is_used_untimed_and_not_remembered(page):
    engine = FakeEngine()
    registry = registry_on(engine, SWIFTSHADER)
    emotion, detector = start(registry)
    assert registry.choice.backend == "wasm" and registry.choice.how == "only"
    assert "webgl not timed (its renderer is SwiftShader" in registry.choice.reason
    assert emotion.timed == [] and detector.timed == []
    assert backends.STORAGE_KEY not in page.storage.items, "nothing measured, nothing remembered"


def test_the_only_backend_that_cannot_run_the_models_sends_the_start_to_a_trial(page):
    engine = FakeEngine()
    registry = registry_on(engine, SWIFTSHADER, emotion_ms={"cpu": 40.0}, detector_ms={"cpu": 90.0})
    start(registry)
    assert registry.choice.backend == "cpu" and registry.choice.how == "measured"
    assert "wasm failed (Error: wasm cannot run fer-mini-xception)" in registry.choice.reason


def test_a_remembered_choice_that_still_initialises_is_used_without_timing(page):
    key = backends.memory_key("4.22.0", GPU.user_agent)
    page.storage.setItem(backends.STORAGE_KEY, json.dumps({"key": key, "backend": "webgl", "ms": {"webgl": 3.5}}))
    engine = FakeEngine()
    registry = registry_on(engine)
    emotion, _ = start(registry)
    assert registry.choice.how == "remembered" and registry.choice.backend == "webgl"
    assert emotion.timed == [] and engine.switches == ["webgl"]


def test_a_remembered_backend_that_no_longer_initialises_is_decided_afresh(page):
    key = backends.memory_key("4.22.0", GPU.user_agent)
    page.storage.setItem(backends.STORAGE_KEY, json.dumps({"key": key, "backend": "webgl", "ms": {"webgl": 3.5}}))
    engine = FakeEngine(fails={"webgl": "no context"})
    registry = registry_on(engine)
    start(registry)
    assert registry.choice.how == "only" and registry.choice.backend == "wasm", "cpu is not worth timing after it"
    assert "webgl failed (no context)" in registry.choice.reason


def test_a_forced_backend_that_does_not_initialise_falls_back_with_a_note(page):
    engine = FakeEngine(fails={"webgl": "no context"})
    registry = registry_on(engine)
    emotion, _ = start(registry, forced="webgl")
    assert registry.choice.how == "fallback" and registry.choice.backend == "wasm"
    assert registry.notes == ["The webgl backend is not available in this browser's worker, where the analysis runs; "
                              "using wasm."]
    assert emotion.timed == [], "a forced start times nothing"


def test_a_backend_that_never_answers_is_given_up_on_and_named(page, monkeypatch):
    monkeypatch.setattr(registry_module, "TRIAL_TIMEOUT_S", 0.05)
    engine = FakeEngine(hangs=("webgl",))
    registry = registry_on(engine)
    start(registry)
    assert registry.choice.backend == "wasm" and "webgl failed (no answer in 0 s)" in registry.choice.reason


def test_no_backend_at_all_is_an_error_naming_each(page):
    engine = FakeEngine(fails={"wasm": "no wasm", "webgl": "no context", "cpu": "out of memory"})
    with pytest.raises(RuntimeError, match="wasm failed \\(no wasm\\); webgl failed .*cpu failed"):
        start(registry_on(engine))


def test_after_a_backend_fails_the_models_move_to_the_next_that_runs_them(page):
    engine = FakeEngine()
    registry = registry_on(engine, emotion_ms={"webgl": 1.0, "cpu": 40.0}, detector_ms={"webgl": 2.5, "cpu": 90.0})
    run_async(registry.start("webgl", ["fer-mini-xception", "blazeface-short"]))
    emotion, detector = registry.loaded
    assert run_async(registry.recover("webgl")) == "cpu", "wasm cannot run them: skipped"
    assert registry.choice.how == "fallback" and registry.choice.backend == "cpu"
    assert registry.choice.reason == "the webgl backend failed here; cpu is the next that works"
    assert emotion.model.backend == detector.model.backend == engine.current == "cpu"


def test_when_no_other_backend_runs_the_models_recovery_fails(page):
    engine = FakeEngine()
    registry = registry_on(engine, emotion_ms={"webgl": 1.0}, detector_ms={"webgl": 2.5})
    run_async(registry.start("webgl", ["fer-mini-xception", "blazeface-short"]))
    with pytest.raises(RuntimeError, match="no TF.js backend besides webgl can run the models"):
        run_async(registry.recover("webgl"))
