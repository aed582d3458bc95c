""""About this model" (browser/view.py): the model in use described from its manifest, text
only; a model made by build.py train also shows its training summary, any other none."""

from __future__ import annotations

import json

import pytest

from moodlens.browser._compat import js
from moodlens.browser.view import View, model_details
from moodlens.manifest import DEFAULT_EMOJI, OTHER_COLORS, parse

from .fakejs import MODELS, install_page

SUMMARY = ("Fine-tuned from fer mini-XCEPTION on 240 pictures of 3 labels: 14 epochs, the best was 9. "
           "Held-out accuracy 91.7 % on 60 pictures (macro F1 0.915).")


def trained(labels=("happy", "sad", "<b>focused</b>")):
    """A 3-label model as build.py train writes it, one label Moodlens does not know."""
    data = json.loads((MODELS / "fer-mini-xception" / "manifest.json").read_text())
    data.update(id="mine", name="mine (trained)", labels=list(labels), license="your own",
                training={"summary": SUMMARY, "accuracy": 0.917, "epochs": 14, "best_epoch": 9})
    for key in ("source", "credit"):
        data.pop(key, None)
    return parse(data)


@pytest.fixture
def page(monkeypatch):
    return install_page(monkeypatch)


def test_details_of_a_shipped_model_say_nothing_of_training(emotion_manifest):
    details = model_details(emotion_manifest)
    assert details["model-name"] == "oarriaga mini-XCEPTION (TF.js graph)"
    assert details["model-input"] == "TF.js graph · 64×64 grayscale"
    assert details["model-license"] == "MIT" and "Octavio Arriaga" in details["model-credit"]
    assert details["model-training-summary"] == ""


def test_a_trained_model_shows_its_training_summary_and_its_own_labels(page):
    doc = js.document
    View(doc).show_model_details(trained())
    assert doc.getElementById("model-name").textContent == "mine (trained)"
    assert doc.getElementById("model-credit").textContent == "none given"
    assert doc.getElementById("model-training").hidden is False
    assert doc.getElementById("model-training-summary").textContent == SUMMARY
    labels = doc.getElementById("model-labels").children
    shown = [(li.style.properties["--c"], *(span.textContent for span in li.children)) for li in labels]
    assert shown[:2] == [("#f5b800", "😄", "happy"), ("#3e63dd", "😢", "sad")]
    assert shown[2] == (OTHER_COLORS[0], DEFAULT_EMOJI, "<b>focused</b>"), "an unknown label: its own colour, as text"


def test_switching_to_a_shipped_model_hides_the_last_ones_training(page, emotion_manifest):
    doc = js.document
    view = View(doc)
    view.show_model_details(trained())
    view.show_model_details(emotion_manifest)
    assert doc.getElementById("model-training").hidden is True
    assert doc.getElementById("model-training-summary").textContent == ""
    assert len(doc.getElementById("model-labels").children) == 7
