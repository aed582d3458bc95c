"""ONNX models made by the tests with the ``onnx`` package, shaped like the ones people bring.

- :func:`va_model`: a small CNN in PyTorch's layout (NCHW, RGB) whose one output is 8 class
  logits then valence then arousal, as HSEmotion's ``*_va_mtl`` models give them.
- :func:`mobilefacenet_like`: a MobileFaceNet-sized classifier (about 1 M parameters, 112×112
  RGB, depthwise-separable blocks), for the speed comparison in the benchmark.

Weights are random but fixed by a seed, with batch-norm statistics that do something, so
outputs vary with the input and a wrong layout or normalisation shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HSEMOTION_LABELS = ("anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")


class _Graph:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def weight(self, shape, scale=None) -> str:
        from onnx import numpy_helper

        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])
        scale = scale if scale is not None else (2.0 / fan_in) ** 0.5
        name = self.name("w")
        self.inits.append(numpy_helper.from_array(self.rng.normal(0, scale, shape).astype(np.float32), name))
        return name

    def const(self, values) -> str:
        from onnx import numpy_helper

        name = self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(values), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv_bn_relu(self, x: str, c_in: int, c_out: int, k: int = 3, stride: int = 1, group: int = 1,
                     relu: bool = True) -> str:
        w = self.weight((c_out, c_in // group, k, k))
        y = self.node("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4, group=group)
        scale = self.const(self.rng.uniform(0.5, 1.5, c_out).astype(np.float32))
        bias = self.const(self.rng.normal(0, 0.1, c_out).astype(np.float32))
        mean = self.const(self.rng.normal(0, 0.1, c_out).astype(np.float32))
        var = self.const(self.rng.uniform(0.5, 2.0, c_out).astype(np.float32))
        y = self.node("BatchNormalization", [y, scale, bias, mean, var])
        return self.node("Relu", [y]) if relu else y

    def save(self, path: Path, x_name: str, x_shape, y: str, y_values: int, opset: int = 17) -> Path:
        from onnx import TensorProto, checker, helper, save

        graph = helper.make_graph(
            self.nodes, "moodlens-test", [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, x_shape)],
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, [x_shape[0], y_values])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                  producer_name="moodlens tests")
        model.ir_version = 8
        checker.check_model(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        save(model, str(path))
        return path


def va_model(path: Path, size: int = 48, seed: int = 5, batch="N", layout: str = "nchw", channels: int = 3,
             va: bool = True) -> Path:
    """``size``×``size`` images -> 8 logits, then valence and arousal (10 values per face); with
    ``va=False`` 8 probabilities (a Softmax). ``layout="nhwc"`` takes channels last and
    transposes first, as a TensorFlow export (tf2onnx) does."""
    g = _Graph(seed)
    x = "input"
    if layout == "nhwc":
        x = g.node("Transpose", [x], perm=[0, 3, 1, 2])
    x = g.conv_bn_relu(x, channels, 8, stride=2)
    x = g.conv_bn_relu(x, 8, 16, stride=2)
    x = g.node("GlobalAveragePool", [x])
    x = g.node("Flatten", [x])
    logits = g.node("Gemm", [x, g.weight((8, 16), 0.5), g.const(np.zeros(8, np.float32))], transB=1)
    if not va:
        return g.save(path, "input", _input_shape(batch, size, channels, layout), g.node("Softmax", [logits], axis=1), 8)
    va_out = g.node("Tanh", [g.node("Gemm", [x, g.weight((2, 16), 0.5), g.const(np.zeros(2, np.float32))], transB=1)])
    y = g.node("Concat", [logits, va_out], axis=1)
    return g.save(path, "input", _input_shape(batch, size, channels, layout), y, 10)


def _input_shape(batch, size: int, channels: int, layout: str) -> list:
    return [batch, channels, size, size] if layout == "nchw" else [batch, size, size, channels]


def mobilefacenet_like(path: Path, seed: int = 9, classes: int = 8) -> Path:
    """About 1 M parameters, 112×112 RGB NCHW, MobileFaceNet's widths and depthwise blocks."""
    g = _Graph(seed)
    x = g.conv_bn_relu("input", 3, 64, stride=2)  # 56
    x = g.conv_bn_relu(x, 64, 64, group=64)
    for c_in, c_out, stride, repeat in ((64, 64, 2, 5), (64, 128, 2, 1), (128, 128, 1, 6), (128, 128, 2, 1),
                                        (128, 128, 1, 2)):
        for i in range(repeat):
            expand = (c_in if i == 0 else c_out) * 2
            y = g.conv_bn_relu(x, c_in if i == 0 else c_out, expand, k=1)
            y = g.conv_bn_relu(y, expand, expand, stride=stride if i == 0 else 1, group=expand)
            y = g.conv_bn_relu(y, expand, c_out, k=1, relu=False)
            x = g.node("Add", [x, y]) if i > 0 else y
    x = g.conv_bn_relu(x, 128, 512, k=1)
    x = g.node("GlobalAveragePool", [x])
    x = g.node("Flatten", [x])
    x = g.node("Gemm", [x, g.weight((512, 512)), g.const(np.zeros(512, np.float32))], transB=1)
    y = g.node("Gemm", [x, g.weight((classes, 512)), g.const(np.zeros(classes, np.float32))], transB=1)
    return g.save(path, "input", ["N", 3, 112, 112], y, classes)


def parameters(path: Path) -> int:
    import onnx

    return sum(int(np.prod(i.dims)) for i in onnx.load(str(path)).graph.initializer)


def onnx_macs(path: Path) -> int:
    """Multiply-accumulates of one face through an ONNX model's Conv and Gemm nodes (batch 1),
    from the ``onnx`` package's shape inference: the work the benchmark's times are read against."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(path))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    model = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.value_info) + list(model.graph.output)}
    weights = {i.name: list(i.dims) for i in model.graph.initializer}
    macs = 0
    for node in model.graph.node:
        if node.op_type == "Conv":  # every output value: (in channels / group) × kernel
            macs += int(np.prod(shapes[node.output[0]])) * int(np.prod(weights[node.input[1]][1:]))
        elif node.op_type == "Gemm":
            macs += int(np.prod(weights[node.input[1]]))
    return macs


def tfjs_macs(model_json: Path, side: int = 64) -> int:
    """The same count for a TF.js graph model of convolutions (NHWC), such as oarriaga's
    emotion.json: spatial sizes followed through its strides and paddings."""
    import base64
    import json
    import math

    topology = json.loads(model_json.read_text())
    nodes = {n["name"]: n for n in topology["modelTopology"]["node"]}
    weights = {w["name"]: w["shape"] for group in topology["weightsManifest"] for w in group["weights"]}
    shapes: dict[str, list | None] = {}
    macs = 0

    def shape(ref: str):
        nonlocal macs
        name = ref.split(":")[0].lstrip("^")
        if name in shapes or name in weights:
            return shapes.get(name, weights.get(name))
        node, result = nodes[name], None
        op, attrs = node["op"], node.get("attr", {})
        if op == "Placeholder":
            result = [1, side, side, 1]
        elif op in ("_FusedConv2D", "Conv2D", "DepthwiseConv2dNative", "MaxPool", "AvgPool"):
            x = shape(node["input"][0])
            stride = int(attrs["strides"]["list"]["i"][1])
            padding = base64.b64decode(attrs["padding"]["s"]).decode()
            if op in ("MaxPool", "AvgPool"):
                k, channels = int(attrs["ksize"]["list"]["i"][1]), x[3]
            else:
                w = weights[node["input"][1]]
                k, channels = w[0], (w[3] if op != "DepthwiseConv2dNative" else x[3] * w[3])
            h = math.ceil(x[1] / stride) if padding == "SAME" else (x[1] - k) // stride + 1
            result = [1, h, h, channels]
            if op != "MaxPool" and op != "AvgPool":
                macs += h * h * k * k * (w[2] * w[3] if op != "DepthwiseConv2dNative" else x[3] * w[3])
        elif op in ("MatMul", "_FusedMatMul"):
            w = weights[node["input"][1]]
            macs += w[0] * w[1]
            result = [1, w[1]]
        elif op == "Mean":
            result = [1, shape(node["input"][0])[3]]
        elif op != "Const":
            result = shape(node["input"][0])
        shapes[name] = result
        return result

    for name in nodes:
        shape(name)
    return macs
