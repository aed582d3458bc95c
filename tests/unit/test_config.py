"""URL parameters: defaults, clamping, malformed values, notes for people."""

from moodlens.config import PARAMS, Config, parse

MODELS = ["oarriaga-emotion", "other-model"]


def test_no_parameters_gives_the_defaults():
    assert parse("", MODELS) == Config()


def test_valid_values_are_taken():
    cfg = parse("?autostart=1&model=other-model&backend=wasm&detector=blazeface&max_faces=3"
                "&smoothing=0.25&detect_every=1&interval=200&mirror=0", MODELS)
    assert cfg == Config(True, "other-model", "wasm", "blazeface", 3, 0.25, 1, 200, False)


def test_out_of_range_numbers_are_clamped_with_a_note():
    cfg = parse("?max_faces=500&smoothing=-2&interval=1&detect_every=0", MODELS)
    assert (cfg.max_faces, cfg.smoothing, cfg.interval_ms, cfg.detect_every) == (20, 0.0, 10, 1)
    assert len(cfg.notes) == 4
    assert any("interval=1" in n and "10–1000" in n and "using 10" in n for n in cfg.notes)


def test_malformed_and_absurd_values_fall_back_to_defaults_with_notes():
    cfg = parse("?max_faces=lots&smoothing=nan&interval=1e999&autostart=maybe", MODELS)
    assert (cfg.max_faces, cfg.smoothing, cfg.interval_ms, cfg.autostart) == (5, 0.6, None, False)
    assert len(cfg.notes) == 4


def test_unknown_model_backend_and_parameter_are_reported():
    cfg = parse("?model=nope&backend=gpu&detector=x&colour=red", MODELS)
    assert (cfg.model, cfg.backend, cfg.detector) == (None, None, None)
    joined = " ".join(cfg.notes)
    assert "model=nope" in joined and "backend=gpu" in joined and "detector=x" in joined and "colour" in joined


def test_fractional_face_count_is_rounded_and_noted():
    cfg = parse("?max_faces=2.6", MODELS)
    assert cfg.max_faces == 3 and cfg.notes


def test_every_parameter_has_a_description_for_the_docs():
    assert all(p.description for p in PARAMS)
    assert {p.name for p in PARAMS} >= {"autostart", "model", "backend", "detector", "max_faces", "smoothing", "interval"}


def test_the_docs_document_every_parameter():
    """docs/url-parameters.md has a table row for every parameter config.py accepts."""
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "url-parameters.md").read_text(encoding="utf-8")
    for p in PARAMS:
        assert f"| `{p.name}` |" in page, f"docs/url-parameters.md's table lacks {p.name}"
