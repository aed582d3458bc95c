"""Manifest validation: the shipped manifests pass; broken ones fail naming the field."""

import copy
import re

import pytest

from moodlens.manifest import DEFAULT_EMOJI, OTHER_COLORS, ManifestError, check_model_shapes, parse


def test_shipped_manifests_are_valid(emotion_manifest, detector_manifest):
    assert emotion_manifest.label_names == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert emotion_manifest.input.shape == (64, 64, 1)
    assert detector_manifest.decode.strides == (8, 16)


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d.pop("labels"), "missing 'labels'"),
        (lambda d: d["labels"].__setitem__(0, {"name": "angry", "color": "red"}), "labels[0].color"),
        (lambda d: d["labels"].append({"name": "happy"}), "unique"),
        (lambda d: d["input"].__setitem__("mean", [0.5, 0.5, 0.5]), "input.mean"),
        (lambda d: d["input"].__setitem__("color", "cmyk"), "input.color"),
        (lambda d: d["input"].__setitem__("width", 0), "input.width"),
        (lambda d: d["input"].__setitem__("std", [0]), "input.std"),
        (lambda d: d["source"]["files"][0].__setitem__("sha256", "abc"), "sha256"),
        (lambda d: d.__setitem__("kind", "gender"), "kind"),
        (lambda d: d["input"].__setitem__("layout", "chw"), "input.layout"),
        (lambda d: d.__setitem__("valence_output", 9), "valence_output: the output has 8 values"),
        (lambda d: d.update(valence_output=7, arousal_output=7), "must be different indices"),
        (lambda d: d.__setitem__("arousal_output", -1), "arousal_output"),
    ],
)
def test_broken_manifests_name_what_is_wrong(emotion_dict, change, field):
    data = copy.deepcopy(emotion_dict)
    change(data)
    with pytest.raises(ManifestError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse(data)


def test_six_class_rgb_model_with_its_own_labels(emotion_dict):
    data = copy.deepcopy(emotion_dict)
    data["input"] = {"width": 48, "height": 48, "color": "rgb", "scale": 255,
                     "mean": [0.5432, 0.4287, 0.3821], "std": [0.2862, 0.2541, 0.2465]}
    data["labels"] = ["joy", "anger", "calm", "fear", "awe", "boredom"]
    m = parse(data)
    assert m.input.shape == (48, 48, 3)
    # Labels Moodlens does not know get the neutral emoji and colours of their own, in order.
    assert (m.label("awe").color, m.label("boredom").color) == OTHER_COLORS[:2]
    assert m.label("boredom").emoji == DEFAULT_EMOJI
    assert len({label.color for label in m.labels}) == 6


def test_model_shapes_must_match_the_manifest(emotion_manifest):
    check_model_shapes(emotion_manifest, [None, 64, 64, 1], 7)
    with pytest.raises(ManifestError, match="outputs 6 values but the manifest lists 7"):
        check_model_shapes(emotion_manifest, [None, 64, 64, 1], 6)
    with pytest.raises(ManifestError, match=r"input is \[48, 48, 1\]"):
        check_model_shapes(emotion_manifest, [None, 48, 48, 1], 7)


def test_an_onnx_model_with_valence_and_arousal(emotion_dict):
    data = copy.deepcopy(emotion_dict)
    data.update(format="onnx", entry="model.onnx", valence_output=7, arousal_output=8)
    data["input"]["layout"] = "nchw"
    m = parse(data)
    assert m.format == "onnx" and m.input.layout == "nchw" and m.input.shape == (64, 64, 1)  # always (h, w, c)
    assert m.regressions == (("valence", 7), ("arousal", 8)) and m.outputs == 9
    check_model_shapes(m, [None, 64, 64, 1], 9)
    with pytest.raises(ManifestError, match="outputs 7 values but the manifest lists 7 labels and valence"):
        check_model_shapes(m, None, 7)
    assert parse(emotion_dict).regressions == () and parse(emotion_dict).input.layout == "nhwc"


TRAINING = {"summary": "Fine-tuned from fer mini-XCEPTION on 240 pictures of 3 labels: 14 epochs, the best was 9.",
            "accuracy": 0.917, "held_out": 60, "pictures": 240, "epochs": 14, "best_epoch": 9,
            "start": "fer-mini-xception", "date": "2026-12-05", "seconds": 81.5}


def test_a_trained_model_keeps_its_training_summary(emotion_dict):
    """``training`` as build.py train writes it is parsed; a key it does not know (seconds) is ignored."""
    data = copy.deepcopy(emotion_dict)
    data["training"] = TRAINING
    t = parse(data).training
    assert t.summary == TRAINING["summary"] and t.accuracy == 0.917 and t.held_out == 60 and t.pictures == 240
    assert (t.epochs, t.best_epoch, t.start, t.date) == (14, 9, "fer-mini-xception", "2026-12-05")
    data["training"] = {"summary": "Trained elsewhere."}
    assert parse(data).training.accuracy is None and parse(data).training.epochs is None
    assert parse(emotion_dict).training is None


@pytest.mark.parametrize("change, field", [
    ({"accuracy": 91.7}, "training.accuracy"),
    ({"epochs": "14"}, "training.epochs"),
    ({"summary": ""}, "training.summary"),
])
def test_a_bad_training_value_names_its_field(emotion_dict, change, field):
    data = copy.deepcopy(emotion_dict)
    data["training"] = {**TRAINING, **change}
    with pytest.raises(ManifestError, match=re.escape(f"manifest.json.{field}: ")):
        parse(data, "manifest.json")
