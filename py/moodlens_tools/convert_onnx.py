"""An ONNX model (a PyTorch export, HSEmotion, ...) -> a Moodlens model folder.

    python3 build.py convert MODEL.onnx --labels … --out FOLDER [--valence-output 8 --arousal-output 9]

Nothing is re-packed: the page runs the ``.onnx`` file itself with onnxruntime-web. What this
does is check, before a person finds out in the page, that it can work there, and write the
manifest that says how to feed it:

- the file is ONNX and well formed (``onnx.checker``);
- one image input of rank 4 with fixed height and width (or ``--input-size`` for symbolic
  ones), its layout (NCHW, PyTorch's, or NHWC) from where the 1 or 3 channels sit;
- every operator is one onnxruntime has a CPU kernel for: onnxruntime-web is that engine
  compiled to WebAssembly (its "wasm" execution provider), so the CPython package's kernel list
  is the list of what the page can run; missing ones are named;
- the output's values per face equal the labels plus the regression outputs, found by running
  the model once on zeros with onnxruntime (which also proves it loads).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from .convert import ConversionError, check_manifest, emotion_manifest, write_manifest

ONNX_DOMAINS = ("", "ai.onnx")
COLOR_BY_CHANNELS = {1: "grayscale", 3: "rgb"}


class OnnxConversionError(ConversionError):
    """A file that cannot become a Moodlens ONNX model; the message says why."""


def convert(source: Path, out: Path, labels: list[str], *, name: str | None = None, color: str | None = None,
            scale: float = 255.0, mean: list[float] | None = None, std: list[float] | None = None,
            margin: float = 0.2, output: str | None = None, license: str = "unknown", credit: str | None = None,
            valence_output: int | None = None, arousal_output: int | None = None,
            input_size: tuple[int, int] | None = None, layout: str | None = None) -> dict:
    """Check ``source`` and write ``out``/{model.onnx, manifest.json}; return the manifest."""
    import onnx

    try:
        model = onnx.load(str(source))
    except FileNotFoundError:
        raise OnnxConversionError(f"{source}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise OnnxConversionError(f"{source}: not an ONNX model ({type(exc).__name__}: {exc})") from None
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0]
        raise OnnxConversionError(f"{source}: not a valid ONNX model ({first})") from None

    missing = missing_operators(model)
    if missing:
        raise OnnxConversionError(f"{source}: onnxruntime-web cannot run these operators: {', '.join(missing)}")
    input_name, dims = image_input(model, source)
    layout = layout or guess_layout(dims, source)
    c_at, h_at, w_at = (1, 2, 3) if layout == "nchw" else (3, 1, 2)
    height, width = dims[h_at], dims[w_at]
    if height is None or width is None:
        if input_size is None:
            raise OnnxConversionError(
                f"{source}: the input's height and width are not fixed ({dims_text(dims)}); give the size the "
                "model was trained at with --input-size, e.g. --input-size 224 or 260x260")
        height, width = input_size
    channels = dims[c_at]
    if channels not in COLOR_BY_CHANNELS:
        raise OnnxConversionError(f"{source}: the input has {channels} channels ({dims_text(dims)}, {layout}); "
                                  "Moodlens feeds 1 (grayscale) or 3 (rgb)")
    color = color or COLOR_BY_CHANNELS[channels]
    if (color == "grayscale") != (channels == 1):
        raise OnnxConversionError(f"{source}: --color {color} does not fit an input with {channels} channels")

    regressions = {k: v for k, v in (("valence", valence_output), ("arousal", arousal_output)) if v is not None}
    values = output_values(source, input_name, dims, layout, (height, width, channels))
    expected = len(labels) + len(regressions)
    if values != expected:
        extra = "".join(f" + {k} (output {v})" for k, v in regressions.items())
        hint = ""
        if values == len(labels) + 2 and not regressions:
            hint = (f"; if its last two values are valence and arousal (as HSEmotion's *_va_mtl models), add "
                    f"--valence-output {len(labels)} --arousal-output {len(labels) + 1}")
        raise OnnxConversionError(f"{source}: the model gives {values} values per face but {len(labels)} labels"
                                  f"{extra} make {expected} ({', '.join(labels)}){hint}")

    entry, digest = "model.onnx", _sha256(source)  # the file is copied as it is
    n = 1 if color == "grayscale" else 3
    manifest = emotion_manifest(
        out, source, name=name, format="onnx", entry=entry, files=[(entry, digest)],
        input={"width": width, "height": height, "color": color, "scale": scale,
               "mean": mean if mean is not None else [0.0] * n, "std": std if std is not None else [1.0] * n,
               "layout": layout},
        margin=margin, output=output or ("probabilities" if ends_in_softmax(model) else "logits"), labels=labels,
        license=license, credit=credit, extra={f"{k}_output": v for k, v in regressions.items()})
    check_manifest(manifest, out)  # before anything is written
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out / entry)
    write_manifest(manifest, out)
    return manifest


def missing_operators(model) -> list[str]:
    """Operators (with their domain and opset) that onnxruntime has no CPU kernel for."""
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_c

    kernels: dict[tuple[str, str], list] = {}
    for k in ort_c.get_all_opkernel_def():
        if k.provider == "CPUExecutionProvider":
            kernels.setdefault((k.domain or "", k.op_name), []).append(k.version_range)
    opsets = {(imp.domain or ""): imp.version for imp in model.opset_import}
    missing = set()
    for node in _nodes(model.graph):
        domain = "" if node.domain in ONNX_DOMAINS else node.domain
        opset = opsets.get(node.domain or "", opsets.get("", 0))
        ranges = kernels.get((domain, node.op_type))
        if ranges is None or not any(lo <= opset <= hi for lo, hi in ranges):
            if ranges is None and domain == "" and _is_function(model, node):
                continue  # a model-local function: expanded by onnxruntime
            label = node.op_type if not domain else f"{domain}.{node.op_type}"
            missing.add(f"{label} (opset {opset})")
    return sorted(missing)


def _is_function(model, node) -> bool:
    return any(f.name == node.op_type and f.domain == node.domain for f in model.functions)


def _nodes(graph):
    """Every node, descending into subgraphs (If, Loop, Scan)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.g is not None and len(attr.g.node):
                yield from _nodes(attr.g)
            for g in attr.graphs:
                yield from _nodes(g)


def image_input(model, source) -> tuple[str, list[int | None]]:
    """(name, dims with None where symbolic) of the one input that is not an initializer."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        raise OnnxConversionError(f"{source}: Moodlens feeds one image input; this model has {len(inputs)} ({names})")
    tensor = inputs[0].type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor.shape.dim]
    if len(dims) != 4:
        raise OnnxConversionError(f"{source}: the input {inputs[0].name} has shape {dims_text(dims)}; Moodlens feeds "
                                  "a batch of images (rank 4: NCHW or NHWC)")
    if tensor.elem_type != 1:  # TensorProto.FLOAT
        raise OnnxConversionError(f"{source}: the input {inputs[0].name} is not float32; Moodlens feeds float32")
    return inputs[0].name, dims


def guess_layout(dims, source) -> str:
    channels_first, channels_last = dims[1] in (1, 3), dims[3] in (1, 3)
    if channels_first and not channels_last:
        return "nchw"
    if channels_last and not channels_first:
        return "nhwc"
    raise OnnxConversionError(f"{source}: cannot tell from the input shape {dims_text(dims)} where the channels are; "
                              "say it with --layout nchw (PyTorch) or --layout nhwc")


def output_values(source, input_name, dims, layout, size) -> int:
    """Values per face of the first output, from one run on zeros with onnxruntime."""
    import numpy as np
    import onnxruntime

    height, width, channels = size
    batch = dims[0] or 1
    shape = (batch, channels, height, width) if layout == "nchw" else (batch, height, width, channels)
    try:
        session = onnxruntime.InferenceSession(str(source), providers=["CPUExecutionProvider"])
        out = session.run(None, {input_name: np.zeros(shape, np.float32)})[0]
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own errors (wrong size, bad graph)
        first = str(exc).strip().splitlines()[0]
        raise OnnxConversionError(f"{source}: onnxruntime could not run it on a {shape} input ({first})") from None
    return int(np.asarray(out).reshape(batch, -1).shape[1])


def ends_in_softmax(model) -> bool:
    """Whether the node making the first output is a Softmax."""
    first = model.graph.output[0].name
    return any(node.op_type == "Softmax" and first in node.output for node in model.graph.node)


def dims_text(dims) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
