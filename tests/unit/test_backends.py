"""The TF.js backend choice: which to try, when to stop a trial, which wins, what is remembered."""

from __future__ import annotations

import json

import pytest

from moodlens.backends import (
    BACKENDS,
    Capabilities,
    Choice,
    Trial,
    candidates,
    choose,
    chosen_without_timing,
    excluded_from_trial,
    memory_key,
    not_worth_timing,
    only_backend_worth_timing,
    recall,
    remember,
    to_time_after,
    worth_finishing,
)

GPU = Capabilities(webgl="webgl2", webgl_renderer="ANGLE (NVIDIA GeForce RTX 3060)", wasm=True)


def test_wasm_leads_then_webgl_then_cpu():
    assert candidates(GPU) == ("wasm", "webgl", "cpu")


def test_a_browser_without_webgl_tries_only_wasm_and_cpu():
    assert candidates(Capabilities(webgl=None, wasm=True)) == ("wasm", "cpu")
    assert candidates(Capabilities(webgl=None, wasm=False)) == ("cpu",)


@pytest.mark.parametrize("renderer", ["Google SwiftShader", "llvmpipe (LLVM 15.0.6, 256 bits)",
                                      "Microsoft Basic Render Driver", "Mesa softpipe"])
def test_webgl_named_as_software_goes_last(renderer):
    caps = Capabilities(webgl="webgl2", webgl_renderer=renderer)
    assert caps.software_webgl
    assert candidates(caps) == ("wasm", "cpu", "webgl")


def test_a_masked_renderer_is_not_taken_for_software():
    """WebKit calls every renderer "Apple GPU": only timing can tell, so WebGL stays in the trial."""
    caps = Capabilities(webgl="webgl2", webgl_renderer="Apple GPU")
    assert not caps.software_webgl
    assert "webgl" in candidates(caps)


def test_a_forced_backend_goes_first_and_the_rest_stay_as_fallbacks():
    assert candidates(GPU, forced="cpu") == ("cpu", "wasm", "webgl")
    assert candidates(GPU, forced="webgl") == ("webgl", "wasm", "cpu")


def test_skipped_backends_are_left_out():
    assert candidates(GPU, skip=("webgl",)) == ("wasm", "cpu")
    assert candidates(GPU, forced="webgl", skip=("webgl",)) == ("wasm", "cpu")


def test_a_trial_stops_once_the_emotion_model_alone_is_slower_than_the_best_whole_pass():
    done = [Trial("wasm", emotion_ms=3.0, detector_ms=8.0)]  # 11 ms a pass
    assert worth_finishing(10.9, done)
    assert not worth_finishing(11.0, done)
    assert not worth_finishing(34.0, done)
    assert worth_finishing(500.0, []), "the first backend is always timed in full"
    assert worth_finishing(5.0, [Trial("webgl", error="did not initialise")])


def test_the_fastest_whole_pass_wins_and_the_reason_names_every_timing():
    trials = [Trial("wasm", emotion_ms=3.1, detector_ms=8.2), Trial("webgl", emotion_ms=1.0, detector_ms=2.5),
              Trial("cpu", emotion_ms=53.3)]
    choice = choose(trials)
    assert choice.backend == "webgl" and choice.how == "measured"
    assert "webgl 3.5 ms" in choice.reason and "wasm 11.3 ms" in choice.reason
    assert "cpu 53.3 ms for the emotion model alone" in choice.reason


def test_failed_backends_are_named_and_never_chosen():
    choice = choose([Trial("webgl", error="WebGL is not supported"), Trial("wasm", emotion_ms=4, detector_ms=9)])
    assert choice.backend == "wasm"
    assert "webgl failed (WebGL is not supported)" in choice.reason


def test_no_backend_that_ran_the_models_is_an_error_naming_each():
    with pytest.raises(ValueError, match="webgl failed.*cpu failed"):
        choose([Trial("webgl", error="lost"), Trial("cpu", error="out of memory")])


def test_a_measured_choice_is_remembered_for_the_same_tfjs_and_browser_only():
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"
    key = memory_key("4.22.0", ua)
    choice = choose([Trial("wasm", emotion_ms=3.0, detector_ms=8.0), Trial("cpu", emotion_ms=40.0)])
    text = remember(choice, key)
    assert len(text) < 256 and ua not in text  # a short value; the user agent only as a hash
    again = recall(text, key)
    assert again is not None and again.backend == "wasm" and again.how == "remembered"
    assert "wasm 11.0 ms" in again.reason and "cpu slower" in again.reason
    assert recall(text, memory_key("4.23.0", ua)) is None, "another TF.js version measures again"
    assert recall(text, memory_key("4.22.0", ua.replace("153", "154"))) is None, "another browser build too"


@pytest.mark.parametrize("text", [None, "", "not json", "[]", '{"key": "x"}', json.dumps({
    "key": memory_key("4.22.0", "ua"), "backend": "webgpu", "ms": {}}), json.dumps({
    "key": memory_key("4.22.0", "ua"), "backend": "wasm", "ms": "fast"})])
def test_a_remembered_value_that_does_not_fit_is_ignored(text):
    assert recall(text, memory_key("4.22.0", "ua")) is None


def test_the_choice_reports_itself_for_diagnostics():
    choice = Choice("wasm", "forced", "chosen with ?backend=")
    assert choice.to_json() == {"backend": "wasm", "how": "forced", "reason": "chosen with ?backend=", "trials_ms": {}}
    caps = Capabilities(webgl="webgl2", webgl_renderer="llvmpipe", jspi=True)
    assert caps.to_json()["software_webgl"] is True and caps.to_json()["jspi"] is True


def test_webgl_that_names_itself_software_is_not_timed_and_the_reason_says_so():
    caps = Capabilities(webgl="webgl2", webgl_renderer="ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device))")
    [skipped] = excluded_from_trial(caps)
    assert skipped.backend == "webgl" and skipped.skipped == "its renderer is SwiftShader, in software"
    choice = choose([Trial("wasm", emotion_ms=3.0, detector_ms=8.0), skipped])
    assert choice.backend == "wasm" and "webgl not timed (its renderer is SwiftShader, in software)" in choice.reason
    assert excluded_from_trial(Capabilities(webgl="webgl2", webgl_renderer="Apple GPU")) == []
    assert excluded_from_trial(Capabilities(webgl=None)) == []


def test_cpu_is_not_timed_once_wasm_with_simd_ran_the_models():
    simd = Capabilities(webgl=None, wasm=True, wasm_simd=True)
    wasm_ran = [Trial("wasm", emotion_ms=3.0, detector_ms=8.0)]
    skipped = not_worth_timing("cpu", simd, wasm_ran)
    assert skipped is not None and skipped.skipped and "cpu not timed" in skipped.describe()
    assert not_worth_timing("webgl", simd, wasm_ran) is None, "WebGL can beat wasm on a real GPU: always timed"
    assert not_worth_timing("cpu", simd, [Trial("wasm", error="out of memory")]) is None, "wasm failed: cpu is the fallback"
    assert not_worth_timing("cpu", simd, [Trial("wasm", emotion_ms=3.0)]) is None, "wasm not timed in full"
    assert not_worth_timing("cpu", Capabilities(webgl=None, wasm=True, wasm_simd=False), wasm_ran) is None, "no SIMD"
    choice = choose(wasm_ran + [skipped])
    assert choice.backend == "wasm" and "cpu not timed" in choice.reason


def test_a_backend_with_nothing_to_be_compared_with_is_chosen_without_timing():
    simd = Capabilities(webgl="webgl2", webgl_renderer="ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device))",
                        wasm=True, wasm_simd=True)
    order = candidates(simd)
    assert order == ("wasm", "cpu", "webgl")
    only = only_backend_worth_timing("wasm", ("cpu",), simd, excluded_from_trial(simd))
    assert only is not None and only.backend == "wasm" and only.how == "only"
    assert "webgl not timed (its renderer is SwiftShader" in only.reason and "cpu not timed" in only.reason
    assert only.to_json()["trials_ms"] == {"webgl": None, "cpu": None}
    # Anything that could win is timed: a real GPU, wasm without SIMD, or a first backend other than wasm.
    gpu = Capabilities(webgl="webgl2", webgl_renderer="Apple GPU", wasm=True, wasm_simd=True)
    assert only_backend_worth_timing("wasm", ("webgl", "cpu"), gpu, []) is None
    assert only_backend_worth_timing("wasm", ("cpu",), Capabilities(webgl=None, wasm=True, wasm_simd=False), []) is None
    assert only_backend_worth_timing("webgl", ("cpu",), gpu, [Trial("wasm", error="no SIMD")]) is None
    # Firefox headless: no WebGL context, wasm with SIMD; the failure is named.
    firefox = Capabilities(webgl=None, wasm=True, wasm_simd=True)
    assert only_backend_worth_timing("wasm", ("cpu",), firefox, [Trial("webgl", error="no context")]).reason == (
        "the only backend worth timing here: webgl failed (no context); "
        "cpu not timed (far slower than wasm with SIMD wherever measured)")
    assert only_backend_worth_timing("wasm", (), firefox, []).reason == "the only backend worth timing here"


def test_one_list_of_backends_for_the_address_and_the_choice():
    from moodlens import config

    assert BACKENDS is config.BACKENDS
    assert set(candidates(GPU)) == set(BACKENDS)


def test_a_forced_backend_is_used_without_timing_or_named_as_unavailable():
    assert chosen_without_timing("webgl", "webgl", None, []) == Choice("webgl", "forced", "chosen with ?backend=")
    fallback = chosen_without_timing("wasm", "webgl", None, [Trial("webgl", error="no context")])
    assert fallback.backend == "wasm" and fallback.how == "fallback"
    assert fallback.reason == "?backend=webgl is not available here (no context); the next that works"


def test_a_remembered_choice_holds_while_it_initialises_else_the_backends_are_timed():
    remembered = Choice("webgl", "remembered", "fastest when measured on an earlier visit (webgl 3.0 ms)")
    assert chosen_without_timing("webgl", None, remembered, []) is remembered
    assert chosen_without_timing("wasm", None, remembered, [Trial("webgl", error="lost")]) is None
    assert chosen_without_timing("wasm", None, None, []) is None, "a first visit times"


def test_a_trial_times_the_backends_after_the_first_that_works_but_the_excluded():
    order = ("wasm", "cpu", "webgl")
    software = [Trial("webgl", skipped="its renderer is SwiftShader, in software")]
    assert to_time_after("wasm", order, software) == ("cpu",)
    assert to_time_after("wasm", order, []) == ("cpu", "webgl")
    assert to_time_after("cpu", order, []) == ("webgl",), "wasm failed to initialise: not timed"
