"""ONNX models (PyTorch exports, HSEmotion, ...) run by onnxruntime-web in the worker.

The same interface as :class:`tfjs.Model` (load, lease, retire, predict, warm_up, time_ms,
dispose), so the registry, the model switch and the pipeline do not care which runtime a
model needs. onnxruntime-web (``vendor/ort/``, npm ``onnxruntime-web``) is imported the first
time an ONNX model is chosen, never at start-up: a visitor who never picks one never downloads
its 15 MB WebAssembly. It runs on its wasm execution provider (SIMD), single-threaded unless the
page is cross-origin isolated (threads need SharedArrayBuffer).

The pipeline prepares every batch as (N, h, w, c); a model whose manifest says
``"layout": "nchw"`` (PyTorch's) gets it transposed to (N, c, h, w) in NumPy here.

    model = await OnnxModel.load("models/x", manifest, read)
    out = await model.predict(batch)        # (N, h, w, c) float32 -> (N, values) float32
"""

from __future__ import annotations

from ..manifest import ManifestError, check_model_shapes
from ._compat import JsException, js, to_js
from ._js import JsError, load_module, settle
from .tfjs import Leased, ModelLoadError

ORT_DIR = "vendor/ort/"
ORT_MODULE = f"{ORT_DIR}ort.wasm.min.mjs"

_runtime = None  # the imported module, once


async def runtime():
    """onnxruntime-web's module, imported on first use and set up for this page."""
    global _runtime
    if _runtime is None:
        ort = await load_module(ORT_MODULE)
        if ort is None or not hasattr(ort, "InferenceSession"):
            raise ModelLoadError(f"{ORT_MODULE}: the ONNX runtime could not be loaded")
        ort.env.wasm.wasmPaths = js.URL.new(ORT_DIR, js.location.href).href
        isolated = bool(getattr(js, "crossOriginIsolated", False))
        ort.env.wasm.numThreads = min(4, int(js.navigator.hardwareConcurrency or 1)) if isolated else 1
        ort.env.wasm.proxy = False  # this already is the app's worker
        _runtime = ort
    return _runtime


def version() -> str | None:
    return str(_runtime.env.versions.web) if _runtime is not None else None


class OnnxModel(Leased):
    """An ONNX model with the manifest that describes it; see the module's docstring."""

    def __init__(self, manifest, url: str, data: bytes):
        self.manifest, self.url, self.data = manifest, url, data
        self.session = None
        self.input_name = self.output_name = None
        self.fixed_batch: int | None = None  # a model exported with a fixed batch size (often 1)
        self._users = 0
        self._retired = False

    @classmethod
    async def load(cls, where: str, manifest, read) -> OnnxModel:
        _, data = await read(manifest.entry)
        self = cls(manifest, f"{where}/{manifest.entry}", data)
        await self.reload()
        return self

    async def reload(self) -> None:
        """Build the session from the checked bytes (again after a TF.js backend change: the
        ONNX runtime does not depend on it, but the registry rebuilds every model alike)."""
        ort = await runtime()
        self.dispose()
        options = to_js({"executionProviders": ["wasm"], "graphOptimizationLevel": "all"},
                        dict_converter=js.Object.fromEntries)
        try:
            bytes_js = to_js(self.data)  # a Uint8Array copy of the checked bytes
            self.session = await settle(ort.InferenceSession, "create", bytes_js, options)
        except (JsError, JsException) as exc:
            raise ModelLoadError(f"{self.url}: onnxruntime-web could not build the model ({exc})") from None
        self.input_name = str(self.session.inputNames[0])
        self.output_name = self._pick_output()
        shape = self._input_shape()
        if shape is not None and isinstance(shape[0], int) and shape[0] > 0:
            self.fixed_batch = shape[0]
        try:
            check_model_shapes(self.manifest, self._as_nhwc(shape), None)
        except ManifestError as exc:
            self.dispose()
            raise ModelLoadError(f"{self.url}: {exc}") from None

    def _input_shape(self):
        """The input's dims (ints, or None where symbolic), batch first; None if not exposed."""
        meta = getattr(self.session, "inputMetadata", None)
        if meta is None or not len(meta):
            return None
        dims = getattr(meta[0], "shape", None)
        if dims is None:
            return None
        return [int(d) if isinstance(d, (int, float)) else None for d in dims.to_py()]

    def _as_nhwc(self, shape):
        if shape is None or len(shape) != 4:
            return shape
        return [shape[0], shape[2], shape[3], shape[1]] if self.manifest.input.layout == "nchw" else shape

    def _pick_output(self) -> str:
        """The output the manifest describes: the first, or the first with the manifest's number
        of values per face when the model has several (a model with an embedding output too)."""
        names = [str(n) for n in self.session.outputNames]
        meta = getattr(self.session, "outputMetadata", None)
        if meta is not None and len(meta) == len(names):
            for name, m in zip(names, meta):
                dims = getattr(m, "shape", None)
                values = dims.to_py()[-1] if dims is not None and len(dims) else None
                if values == self.manifest.outputs:
                    return name
        return names[0]

    async def predict(self, batch, size: int | None = None):
        """(N, h, w, c) float32 -> (N, values) float32."""
        import numpy as np

        n = batch.shape[0]
        if self.fixed_batch is not None and n != self.fixed_batch:
            # Exported with a fixed batch (torch.onnx.export without dynamic_axes): run in
            # slices of that size, the last one padded with blank faces.
            step, parts = self.fixed_batch, []
            for i in range(0, n, step):
                out = await self.predict(_pad(batch[i : i + step], step), size)
                parts.append(out[: min(step, n - i)])
            return np.concatenate(parts) if parts else np.zeros((0, self.manifest.outputs), np.float32)
        x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2) if self.manifest.input.layout == "nchw" else batch,
                                 dtype=np.float32)
        return await self._run(x)

    async def _run(self, x):
        import numpy as np

        ort = _runtime
        data = js.Float32Array.new(x.size)
        data.assign(x.ravel())
        tensor = ort.Tensor.new("float32", data, to_js(list(x.shape)))
        feeds = js.Object.new()
        setattr(feeds, self.input_name, tensor)
        try:
            outputs = await settle(self.session, "run", feeds)
        except (JsError, JsException) as exc:
            raise ModelLoadError(f"{self.url}: onnxruntime-web could not run the model ({exc})") from None
        finally:
            tensor.dispose()
        y = getattr(outputs, self.output_name)
        try:
            out = np.empty(int(y.size), dtype=np.float32)
            js.Float32Array.new(y.data).assign_to(out)  # float16/64 outputs come out as float32
            return out.reshape(x.shape[0], -1)
        finally:
            for name in js.Object.keys(outputs):
                getattr(outputs, name).dispose()

    async def _run_once(self) -> int:
        import numpy as np

        h, w, c = self.manifest.input.shape
        shape = (self.fixed_batch or 1, c, h, w) if self.manifest.input.layout == "nchw" else (self.fixed_batch or 1, h, w, c)
        return int((await self._run(np.zeros(shape, np.float32))).shape[1])

    async def warm_up(self) -> None:
        per_item = await self._run_once()
        try:
            check_model_shapes(self.manifest, None, per_item)
        except ManifestError as exc:
            raise ModelLoadError(f"{self.url}: {exc}") from None

    def dispose(self) -> None:
        if self.session is not None:
            try:
                self.session.release()
            except JsException:
                pass
        self.session = None


def _pad(batch, size: int):
    """``batch`` with zero faces added up to ``size`` (a model exported with a fixed batch)."""
    import numpy as np

    if batch.shape[0] == size:
        return batch
    return np.concatenate([batch, np.zeros((size - batch.shape[0], *batch.shape[1:]), batch.dtype)])
