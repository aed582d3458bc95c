"""TF.js from Python: backend choice, model loading, prediction, tensor disposal.

The only module that creates or disposes tensors. Data crosses the boundary in bulk: one
Float32Array in (filled from NumPy with ``JsBuffer.assign``), one out (``assign_to`` into
NumPy). Input buffers and shape arrays are made once per batch size and reused.

NumPy is imported inside the methods that use it: the page loads models while NumPy is
still being installed, so importing this module must not need NumPy.

    backend = await use_backend(None)          # "webgl", else "wasm", else "cpu"
    model = await Model.load("models/x/model.json", manifest)
    probs = await model.predict(batch)         # (N, h, w, c) float32 -> (N, L) float32
"""

from __future__ import annotations

import js
from pyodide.ffi import JsException, to_js

from ..manifest import Manifest, ManifestError, check_model_shapes

AUTO_ORDER = ("webgl", "wasm", "cpu")


class ModelLoadError(RuntimeError):
    """A model file that failed to load or does not match its manifest; names the file."""


def _page_url(path: str) -> str:
    return js.URL.new(path, js.document.baseURI).href


def hardware_webgl() -> bool:
    """True when WebGL runs on a GPU. A software renderer (SwiftShader, llvmpipe) runs these
    small models 5-10x slower than the wasm backend, so the automatic choice skips it."""
    canvas = js.document.createElement("canvas")
    gl = canvas.getContext("webgl2") or canvas.getContext("webgl")
    if not gl:
        return False
    renderer = ""
    info = gl.getExtension("WEBGL_debug_renderer_info")
    if info:
        renderer = str(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)).lower()
    lose = gl.getExtension("WEBGL_lose_context")
    if lose:
        lose.loseContext()
    return not any(word in renderer for word in ("swiftshader", "llvmpipe", "software"))


async def use_backend(forced: str | None, wasm_dir: str = "vendor/tfjs/") -> tuple[str, list[str]]:
    """Switch TF.js to ``forced`` or to the first backend that initializes; return it and notes.

    Automatic order: webgl on a GPU, then wasm, then cpu.
    """
    js.tf.wasm.setWasmPaths(_page_url(wasm_dir))
    notes = []
    auto = AUTO_ORDER if hardware_webgl() else tuple(b for b in AUTO_ORDER if b != "webgl")
    order = (forced,) + tuple(b for b in auto if b != forced) if forced else auto
    for name in order:
        try:
            ok = await js.tf.setBackend(name)
        except JsException:
            ok = False
        if ok:
            await js.tf.ready()
            if forced and name != forced:
                notes.append(f"The {forced} backend is not available here; using {name}.")
            return name, notes
    raise RuntimeError("No TF.js backend could start (tried " + ", ".join(order) + ").")


def memory() -> dict:
    mem = js.tf.memory()
    return {"tensors": int(mem.numTensors), "bytes": int(mem.numBytes)}


class Model:
    """A TF.js model with the manifest that describes it."""

    def __init__(self, model, manifest: Manifest, url: str):
        self.model, self.manifest, self.url = model, manifest, url
        self._inputs: dict[int, tuple] = {}  # batch size -> (Float32Array, shape array)

    @classmethod
    async def load(cls, url: str, manifest: Manifest) -> Model:
        loader = js.tf.loadGraphModel if manifest.format == "tfjs-graph" else js.tf.loadLayersModel
        try:
            model = await loader(_page_url(url))
        except JsException as exc:
            raise ModelLoadError(f"{url}: could not load the {manifest.format} model ({exc.message})") from None
        self = cls(model, manifest, url)
        try:
            in_shape = model.inputs[0].shape.to_py()
            out_shape = model.outputs[0].shape.to_py() if model.outputs[0].shape else None
            out_size = out_shape[-1] if out_shape and manifest.kind == "emotion" else None
            check_model_shapes(manifest, in_shape, out_size)
        except ManifestError as exc:
            self.dispose()
            raise ModelLoadError(f"{url}: {exc}") from None
        return self

    async def predict(self, batch):
        """(N, h, w, c) float32 ndarray -> the model's first output as float32, batch first."""
        import numpy as np

        n = batch.shape[0]
        buffer, shape = self._input(n)
        buffer.assign(np.ascontiguousarray(batch, dtype=np.float32))
        x = js.tf.tensor(buffer, shape, "float32")
        y = None
        try:
            y = self.model.predict(x)
            data = await y.data()
            out_shape = tuple(y.shape.to_py())
        finally:
            x.dispose()
            if y is not None:
                y.dispose()
        out = np.empty(out_shape, dtype=np.float32)
        data.assign_to(out)
        return out

    async def warm_up(self) -> None:
        """Run once on zeros so the first real frame does not pay for kernel set-up, and check
        the output size against the manifest (graph models often do not declare it)."""
        import numpy as np

        out = await self.predict(np.zeros((1, *self.manifest.input.shape), dtype=np.float32))
        if self.manifest.kind == "emotion":
            try:
                check_model_shapes(self.manifest, None, int(np.prod(out.shape[1:])))
            except ManifestError as exc:
                raise ModelLoadError(f"{self.url}: {exc}") from None

    def _input(self, n: int):
        if n not in self._inputs:
            h, w, c = self.manifest.input.shape
            self._inputs[n] = (js.Float32Array.new(n * h * w * c), to_js([n, h, w, c]))
        return self._inputs[n]

    def dispose(self) -> None:
        self.model.dispose()
        self._inputs.clear()
