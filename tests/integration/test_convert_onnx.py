"""`build.py convert MODEL.onnx`: what it checks and how it says no (CPython, onnx + onnxruntime)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodlens import manifest as manifests
from moodlens_tools.convert import main

from .. import onnx_models

LABELS = ",".join(onnx_models.HSEMOTION_LABELS)


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_model_with_valence_and_arousal_converts_to_a_checked_folder(tmp_path, capsys):
    source = onnx_models.va_model(tmp_path / "va.onnx")
    code, said = run(capsys, source, "--labels", LABELS, "--out", tmp_path / "va", "--valence-output", 8,
                     "--arousal-output", 9, "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225")
    assert code == 0, said
    assert "input 48x48 rgb NCHW, 8 labels, output logits, valence at output 8, arousal at output 9" in said
    m = manifests.load(tmp_path / "va" / "manifest.json")
    assert (m.format, m.input.layout, m.regressions, m.outputs) == ("onnx", "nchw", (("valence", 8), ("arousal", 9)), 10)
    assert (tmp_path / "va" / "model.onnx").read_bytes() == source.read_bytes()


def test_an_nhwc_softmax_model_is_recognised(tmp_path, capsys):
    source = onnx_models.va_model(tmp_path / "g.onnx", size=64, batch=1, layout="nhwc", channels=1, va=False)
    code, said = run(capsys, source, "--labels", LABELS, "--out", tmp_path / "g")
    assert code == 0, said
    data = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert data["input"]["layout"] == "nhwc" and data["input"]["color"] == "grayscale"
    assert data["output"] == "probabilities"


def test_what_cannot_work_is_refused_with_a_reason_and_writes_nothing(tmp_path, capsys):
    import onnx
    from onnx import helper

    va = onnx_models.va_model(tmp_path / "va.onnx")
    cases = {}
    cases["count"] = (va, ["--labels", "a,b,c"], "gives 10 values per face but 3 labels make 3")
    cases["hint"] = (va, ["--labels", LABELS], "add --valence-output 8 --arousal-output 9")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    cases["not onnx"] = (bad, ["--labels", LABELS], "not an ONNX model")
    # A custom operator no runtime knows.
    model = onnx.load(str(va))
    node = helper.make_node("FancyFaceOp", [model.graph.node[-1].output[0]], ["fancy"], domain="com.example")
    model.graph.node.append(node)
    model.graph.output[0].name = "fancy"
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    custom = tmp_path / "custom.onnx"
    onnx.save(model, str(custom))
    cases["operator"] = (custom, ["--labels", LABELS], "cannot run these operators: com.example.FancyFaceOp (opset 1)")
    # Height and width left symbolic by the export.
    dynamic = onnx_models.va_model(tmp_path / "dyn.onnx")
    model = onnx.load(str(dynamic))
    for dim in model.graph.input[0].type.tensor_type.shape.dim[2:]:
        dim.dim_param = "size"
    onnx.save(model, str(dynamic))
    cases["size"] = (dynamic, ["--labels", LABELS, "--valence-output", "8", "--arousal-output", "9"],
                     "height and width are not fixed ([?, 3, ?, ?]); give the size the model was trained at with "
                     "--input-size")
    for name, (source, options, message) in cases.items():
        out = tmp_path / f"out-{name.replace(' ', '-')}"
        code, said = run(capsys, source, *options, "--out", out)
        assert code == 2 and message in said and "Traceback" not in said, (name, said)
        assert not out.exists(), name
    code, said = run(capsys, dynamic, "--labels", LABELS, "--valence-output", "8", "--arousal-output", "9",
                     "--input-size", "48", "--out", tmp_path / "sized")
    assert code == 0 and "input 48x48" in said, said


def test_onnx_options_are_refused_for_a_keras_file(tmp_path, capsys):
    h5 = tmp_path / "m.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n")
    code, said = run(capsys, h5, "--labels", "a,b", "--out", tmp_path / "o", "--valence-output", "2")
    assert code == 2 and "are for ONNX models" in said


def test_the_mobilefacenet_sized_model_is_that_size():
    """The benchmark's stand-in for MobileFaceNet: about a million parameters."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        n = onnx_models.parameters(onnx_models.mobilefacenet_like(Path(folder) / "m.onnx"))
    assert 0.9e6 <= n <= 1.3e6, n
    assert np.isfinite(n)
