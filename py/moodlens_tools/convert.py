"""Keras 2 ``.h5`` -> TF.js layers model + Moodlens manifest, without TensorFlow; an ONNX model
(``.onnx``) -> a checked model folder (``moodlens_tools.convert_onnx``).

    python3 build.py convert MODEL.h5 --labels angry,disgust,fear,happy,sad,surprise,neutral --out models/NAME
    python3 build.py convert MODEL.onnx --labels … --out FOLDER --valence-output 8 --arousal-output 9

A Keras 2 HDF5 file holds the architecture as JSON (the ``model_config`` attribute) and the
weights under ``model_weights/<layer>/<weight name>``. A TF.js layers model is that same JSON
(``modelTopology``) plus the weights as one little-endian float32 file described by a
``weightsManifest``, so conversion is a re-packing: nothing is recomputed. Written here
instead of using the ``tensorflowjs`` PyPI converter because that one pulls in TensorFlow,
JAX, Flax and TF Decision Forests (see ../shared/FACTS.md); this needs only h5py and NumPy.

What it refuses, with a message and no traceback: Keras 3 ``.keras`` archives and Keras 3
``.h5`` files (TF.js 4.22 reads Keras 2 configs only), weights-only files, layer types TF.js
cannot build, and a label list whose length differs from the model's output size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path

from moodlens import __version__
from moodlens.manifest import COLORS, OUTPUTS, ManifestError, parse

# Layer classes tfjs-layers 4.22 can deserialize (its registered Keras class names).
TFJS_LAYERS = frozenset("""
    InputLayer Dense Activation Dropout SpatialDropout1D Flatten Reshape Permute RepeatVector Masking Embedding
    Conv1D Conv2D Conv2DTranspose Conv3D Conv3DTranspose SeparableConv2D DepthwiseConv2D Cropping2D UpSampling2D
    ZeroPadding2D MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D AveragePooling3D
    GlobalAveragePooling1D GlobalAveragePooling2D GlobalMaxPooling1D GlobalMaxPooling2D BatchNormalization
    LayerNormalization ReLU LeakyReLU PReLU ELU ThresholdedReLU Softmax Add Average Concatenate Maximum Minimum
    Multiply Subtract Dot SimpleRNN GRU LSTM ConvLSTM2D Bidirectional TimeDistributed GaussianNoise GaussianDropout
    AlphaDropout Rescaling CenterCrop Resizing
""".split())
CONTAINERS = frozenset(("Sequential", "Model", "Functional"))
# Layers the output size passes through unchanged, walking back from the model's output.
PASS_THROUGH = frozenset(("Activation", "Softmax", "Dropout", "ReLU", "LeakyReLU", "ELU", "BatchNormalization",
                          "GaussianNoise", "GaussianDropout", "AlphaDropout"))
GLOBAL_POOLING = frozenset(("GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
                            "GlobalMaxPooling1D"))
COLOR_BY_CHANNELS = {1: "grayscale", 3: "rgb"}
# Config fields newer Keras 2 versions write that TF.js refuses outright ("Fields kernelInitializer,
# kernelRegularizer and kernelConstraint are invalid for SeparableConv2D"); they are unused by
# these layers, whose kernels have initializers of their own (depthwise_*, pointwise_*).
REFUSED_FIELDS = {
    "SeparableConv2D": ("kernel_initializer", "kernel_regularizer", "kernel_constraint"),
    "SeparableConv1D": ("kernel_initializer", "kernel_regularizer", "kernel_constraint"),
    "DepthwiseConv2D": ("kernel_initializer", "kernel_regularizer", "kernel_constraint"),
}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class ConversionError(Exception):
    """A file this converter cannot turn into a TF.js model; the message says why."""


def convert(source: Path, out: Path, labels: list[str], *, model_id: str | None = None, name: str | None = None,
            color: str | None = None, scale: float = 255.0, mean: list[float] | None = None,
            std: list[float] | None = None, margin: float = 0.2, output: str | None = None,
            license: str = "unknown", credit: str | None = None, source_info: dict | None = None) -> dict:
    """Convert ``source`` into ``out``/{model.json, weights.bin, manifest.json}; return the manifest."""
    config, keras_version, backend, weights = read_h5(source)
    layers = list(walk_layers(config))
    unknown = sorted({f"{layer['class_name']} ({layer['config'].get('name', '?')})" for layer in layers
                      if layer["class_name"] not in TFJS_LAYERS | CONTAINERS})
    if unknown:
        raise ConversionError(f"{source}: TF.js cannot build these layers: {', '.join(unknown)}")

    for layer in layers:
        for key in REFUSED_FIELDS.get(layer["class_name"], ()):
            layer["config"].pop(key, None)
    height, width, channels = input_shape(config, source)
    color = color or COLOR_BY_CHANNELS.get(channels)
    if color is None:
        raise ConversionError(f"{source}: input has {channels} channels; Moodlens feeds 1 (grayscale) or 3 (rgb)")
    outputs = output_size(config)
    if outputs is not None and outputs != len(labels):
        raise ConversionError(f"{source}: the model outputs {outputs} scores but {len(labels)} labels were given "
                              f"({', '.join(labels)})")
    n_channels = 1 if color == "grayscale" else 3
    mean = mean if mean is not None else [0.0] * n_channels
    std = std if std is not None else [1.0] * n_channels

    out.mkdir(parents=True, exist_ok=True)
    specs, blobs = [], []
    for weight_name, array in weights:
        data = array.astype("<f4", copy=False)
        specs.append({"name": weight_name, "shape": list(data.shape), "dtype": "float32"})
        blobs.append(data.tobytes())
    (out / "weights.bin").write_bytes(b"".join(blobs))
    model_json = {
        "format": "layers-model",
        "generatedBy": f"keras v{keras_version}",
        "convertedBy": f"moodlens convert {__version__}",
        "modelTopology": {"keras_version": keras_version, "backend": backend, "model_config": config},
        "weightsManifest": [{"paths": ["weights.bin"], "weights": specs}],
    }
    (out / "model.json").write_text(json.dumps(model_json, separators=(",", ":")))

    manifest = emotion_manifest(out, source, model_id=model_id, name=name, format="tfjs-layers", entry="model.json",
                                files=("model.json", "weights.bin"), source_info=source_info,
                                input={"width": width, "height": height, "color": color, "scale": scale,
                                       "mean": mean, "std": std},
                                margin=margin, output=output or ("probabilities" if ends_in_softmax(config) else "logits"),
                                labels=labels, license=license, credit=credit)
    write_manifest(manifest, out)
    return manifest


def emotion_manifest(out: Path, source: Path, *, format: str, entry: str, files, input: dict, margin: float,
                     output: str, labels: list[str], license: str, credit: str | None, name: str | None,
                     model_id: str | None = None, source_info: dict | None = None, extra: dict | None = None) -> dict:
    """The manifest of a converted emotion model; ``files`` are in ``out`` already (their sha256
    is taken there) or given as (name, sha256) pairs."""
    model_id = model_id or out.name
    return {
        "id": model_id,
        "name": name or model_id,
        "kind": "emotion",
        "format": format,
        "entry": entry,
        "files": [{"name": f, "sha256": _sha256(out / f)} if isinstance(f, str) else {"name": f[0], "sha256": f[1]}
                  for f in files],
        "source": source_info or {"package": "local file", "version": "-", "files": [
            {"name": source.name, "path": str(source.name), "sha256": _sha256(source)}]},
        "input": input,
        "crop": {"margin": margin},
        "output": output,
        "labels": [{"name": label} for label in labels],
        **(extra or {}),
        "license": license,
        "credit": credit or f"converted from {source.name} by moodlens convert",
    }


def check_manifest(manifest: dict, out: Path) -> None:
    """The manifest as the page will read it; ConversionError naming the field otherwise."""
    try:
        parse(manifest, str(out / "manifest.json"))
    except ManifestError as exc:
        raise ConversionError(str(exc)) from None


def write_manifest(manifest: dict, out: Path) -> None:
    check_manifest(manifest, out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def read_h5(path: Path):
    """-> (model_config dict, keras version, backend, [(weight name, ndarray)] in layer order)."""
    try:
        head = path.read_bytes()[:8]
    except OSError as exc:
        raise ConversionError(f"{path}: cannot be read ({exc.strerror})") from None
    if zipfile.is_zipfile(path):
        raise ConversionError(f"{path}: a Keras 3 .keras archive. TF.js reads Keras 2 models only: load it in "
                              "Keras and save it with tf_keras (Keras 2) as .h5, then convert that.")
    if head != HDF5_SIGNATURE:
        hint = ""
        if path.suffix.lower() in (".pt", ".pth"):
            hint = ("; a PyTorch model: export it to ONNX with torch.onnx.export (docs/models.md) and convert the "
                    ".onnx file")
        raise ConversionError(f"{path}: neither an ONNX file (.onnx) nor an HDF5 file (a Keras 2 .h5 model starts "
                              f"with the HDF5 signature){hint}")
    import h5py  # the one non-standard dependency, imported here so --help works without it

    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise ConversionError(f"{path}: holds weights only (no model_config); save the whole model, "
                                  "not model.save_weights()")
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        version = _text(f.attrs.get("keras_version", "unknown"))
        if version.startswith("3"):
            raise ConversionError(f"{path}: saved by Keras {version}. TF.js reads Keras 2 configs only: save it "
                                  "with tf_keras (Keras 2), then convert that.")
        backend = _text(f.attrs.get("backend", "tensorflow"))
        group = f["model_weights"] if "model_weights" in f else f
        containers = {layer["config"]["name"] for layer in walk_layers(config) if layer["class_name"] in CONTAINERS}
        weights = []
        for layer_name in [_text(n) for n in group.attrs.get("layer_names", [])]:
            layer = group[layer_name]
            for weight_name in [_text(n) for n in layer.attrs.get("weight_names", [])]:
                # TF.js finds a weight by "<layer name>/<weight>"; old Keras files store TF
                # variable scopes ("conv2d_1_1/kernel:0" for layer conv2d_1), so rebuild the name.
                short = weight_name.removesuffix(":0")
                name = short if layer_name in containers else f"{layer_name}/{short.rsplit('/', 1)[-1]}"
                weights.append((name, layer[weight_name][()]))
    return config, version, backend, weights


def walk_layers(config: dict):
    """Every layer config, descending into nested models."""
    for layer in _layers(config):
        yield layer
        if layer.get("class_name") in CONTAINERS:
            yield from walk_layers(layer)


def _layers(config: dict) -> list[dict]:
    inner = config.get("config", {})
    return inner.get("layers", []) if isinstance(inner, dict) else inner


def input_shape(config: dict, where) -> tuple[int, int, int]:
    for layer in _layers(config):
        shape = layer.get("config", {}).get("batch_input_shape") or layer.get("config", {}).get("batch_shape")
        if shape:
            if len(shape) != 4 or not all(isinstance(v, int) for v in shape[1:]):
                raise ConversionError(f"{where}: input shape {shape} is not (batch, height, width, channels) "
                                      "with fixed sizes; Moodlens feeds face images")
            return shape[1], shape[2], shape[3]
    raise ConversionError(f"{where}: no input shape in the model config")


def _output_chain(config: dict) -> list[dict]:
    """The layers from the output backwards, following the first inbound connection."""
    layers = _layers(config)
    if config.get("class_name") == "Sequential":
        return list(reversed(layers))
    by_name = {layer["config"]["name"]: layer for layer in layers}
    chain, name = [], config["config"]["output_layers"][0][0]
    while name in by_name and len(chain) < len(layers):
        layer = by_name[name]
        chain.append(layer)
        inbound = layer.get("inbound_nodes") or []
        try:
            name = inbound[0][0][0]
        except (IndexError, KeyError, TypeError):
            break
    return chain


def output_size(config: dict) -> int | None:
    """Scores per face, where the config shows it (a final Dense, or Conv + global pooling)."""
    pooled = False
    for layer in _output_chain(config):
        kind, conf = layer["class_name"], layer.get("config", {})
        if kind == "Dense":
            return int(conf["units"])
        if kind in GLOBAL_POOLING:
            pooled = True
        elif pooled and kind in ("Conv2D", "SeparableConv2D", "Conv1D"):
            return int(conf["filters"])
        elif kind not in PASS_THROUGH:
            return None
    return None


def ends_in_softmax(config: dict) -> bool:
    for layer in _output_chain(config):
        kind, conf = layer["class_name"], layer.get("config", {})
        if kind == "Softmax" or conf.get("activation") == "softmax":
            return True
        if kind not in PASS_THROUGH | GLOBAL_POOLING and conf.get("activation") not in (None, "linear"):
            return False
        if kind not in PASS_THROUGH | GLOBAL_POOLING:
            return False
    return False


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def _size(text: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 224 or 260x260, got {text!r}") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or not all(8 <= v <= 1024 for v in parts):
        raise argparse.ArgumentTypeError(f"expected a size such as 224 or 260x260 (8 to 1024), got {text!r}")
    return parts[0], parts[1]  # height x width


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 build.py convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a Keras 2 .h5 / .hdf5 file (Sequential or Functional), or an "
                                                 ".onnx file")
    parser.add_argument("--labels", required=True, help="label names in output order, separated by commas")
    parser.add_argument("--out", required=True, type=Path, help="folder to write (its name is the model id)")
    parser.add_argument("--name", help="human-readable name for the model picker")
    parser.add_argument("--color", choices=tuple(COLORS), help="default: from the input's channels")
    parser.add_argument("--scale", type=float, default=255.0, help="pixel / scale before mean/std (default 255)")
    parser.add_argument("--mean", type=_floats, help="per-channel mean, e.g. 0.5432,0.4287,0.3821 (default 0)")
    parser.add_argument("--std", type=_floats, help="per-channel std, e.g. 0.2862,0.2541,0.2465 (default 1)")
    parser.add_argument("--margin", type=float, default=0.2, help="crop margin around the face box (default 0.2)")
    parser.add_argument("--output", choices=OUTPUTS, help="default: from the last activation")
    parser.add_argument("--license", default="unknown", help="the model's licence, shown in the credits")
    parser.add_argument("--credit", help="who made the model")
    onnx_args = parser.add_argument_group("ONNX models only")
    onnx_args.add_argument("--valence-output", type=int, metavar="I",
                           help="index in the output vector of a valence value in [-1, 1] (not a class score)")
    onnx_args.add_argument("--arousal-output", type=int, metavar="J",
                           help="index in the output vector of an arousal value in [-1, 1] (not a class score)")
    onnx_args.add_argument("--input-size", type=_size, metavar="HxW",
                           help="the input size, for a model exported with symbolic height and width")
    onnx_args.add_argument("--layout", choices=("nchw", "nhwc"), help="default: from where the input's channels are")
    args = parser.parse_args(argv)
    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    if args.model.suffix.lower() == ".onnx":
        return _main_onnx(args, labels)
    if any(v is not None for v in (args.valence_output, args.arousal_output, args.input_size, args.layout)):
        print("convert: --valence-output, --arousal-output, --input-size and --layout are for ONNX models (.onnx)",
              file=sys.stderr)
        return 2
    manifest = _refusing(lambda: convert(args.model, args.out, labels, name=args.name, color=args.color,
                                         scale=args.scale, mean=args.mean, std=args.std, margin=args.margin,
                                         output=args.output, license=args.license, credit=args.credit))
    if manifest is None:
        return 2
    size = sum(f.stat().st_size for f in args.out.iterdir())
    print(f"wrote {args.out}/model.json, weights.bin and manifest.json ({size / 1e6:.2f} MB): input "
          f"{manifest['input']['height']}x{manifest['input']['width']} {manifest['input']['color']}, "
          f"{len(labels)} labels, output {manifest['output']}")
    return 0


def _refusing(make):
    """``make()``'s manifest, or None after saying why it cannot be made."""
    try:
        return make()
    except ConversionError as exc:
        print(f"convert: {exc}", file=sys.stderr)
    except ModuleNotFoundError as exc:
        print(f"convert: {exc.name} is not installed (run it as `python3 build.py convert …`, which installs it)",
              file=sys.stderr)
    return None


def _main_onnx(args, labels: list[str]) -> int:
    from . import convert_onnx

    manifest = _refusing(lambda: convert_onnx.convert(
        args.model, args.out, labels, name=args.name, color=args.color, scale=args.scale, mean=args.mean,
        std=args.std, margin=args.margin, output=args.output, license=args.license, credit=args.credit,
        valence_output=args.valence_output, arousal_output=args.arousal_output, input_size=args.input_size,
        layout=args.layout))
    if manifest is None:
        return 2
    i = manifest["input"]
    extra = "".join(f", {k} at output {manifest[f'{k}_output']}" for k in ("valence", "arousal")
                    if f"{k}_output" in manifest)
    print(f"wrote {args.out}/model.onnx and manifest.json ({(args.out / 'model.onnx').stat().st_size / 1e6:.2f} MB): "
          f"input {i['height']}x{i['width']} {i['color']} {i['layout'].upper()}, {len(labels)} labels, "
          f"output {manifest['output']}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
