"""TF.js from Python: backend choice, verified model loading, prediction, tensor disposal.

The only module that creates or disposes tensors. Data crosses the boundary in bulk: one
Float32Array in (filled from NumPy with ``JsBuffer.assign``), one out (``assign_to`` into
NumPy). Input buffers and shape arrays are made once per batch size and reused.

Model files are fetched once, checked against the sha256 in their manifest, and handed to
TF.js from memory, so what runs is exactly what was checked, and a damaged or truncated file
is named instead of surfacing as a shape error deep inside TF.js. The checked bytes are kept:
after a WebGL context loss the models are rebuilt on another backend without a download.

    error = await set_backend("wasm")          # None, or why it did not initialise
    model = await Model.load("models/x", manifest)
    probs = await model.predict(batch)         # (N, h, w, c) float32 -> (N, L) float32

NumPy is imported inside the methods that use it: the page loads models while NumPy is
still being installed, so importing this module must not need NumPy.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager

from ..manifest import Manifest, ManifestError, check_model_shapes
from ._compat import JsException, create_proxy, js, to_js
from ._js import FetchError, JsError, describe, load_script, settle
from .site_files import DamagedFile, fetch_site_file

TFLITE_DIR = "vendor/tflite/"


class ModelLoadError(RuntimeError):
    """A model file that failed to load or does not match its manifest; names the file."""


def _page_url(path: str) -> str:
    return js.URL.new(path, js.location.href).href  # the worker's script sits beside index.html


def check_loaded() -> None:
    """TF.js comes from worker.js (imported as modules); say which file did not arrive."""
    if not hasattr(js, "tf") or not hasattr(js.tf, "setBackend"):
        raise RuntimeError("TF.js did not load (vendor/tfjs/tf.min.js)")
    if not hasattr(js.tf, "wasm") or not hasattr(js.tf.wasm, "setWasmPaths"):
        raise RuntimeError("TF.js's WebAssembly backend did not load (vendor/tfjs/tf-backend-wasm.min.js)")


def load_tflite_runtime() -> None:
    """Load @tensorflow/tfjs-tflite into the worker on first use (its runtime is 4 MB nobody
    else needs). It finds its wasm files through ``tflite.setWasmPath``."""
    if hasattr(js, "tflite"):
        return
    url = f"{TFLITE_DIR}tf-tflite.min.js"
    if not load_script(url) or not hasattr(js, "tflite"):
        raise ModelLoadError(f"{url}: the TFLite runtime could not be loaded")
    js.tflite.setWasmPath(_page_url(TFLITE_DIR))


def _tflite():
    runtime = getattr(js, "tflite", None)
    if runtime is None or not hasattr(runtime, "loadTFLiteModel"):
        raise ModelLoadError(f"the TFLite runtime ({TFLITE_DIR}tf-tflite.min.js) is not loaded")
    return runtime


async def set_backend(name: str, wasm_dir: str = "vendor/tfjs/") -> str | None:
    """Make ``name`` TF.js's backend; None when it initialised, else why not."""
    js.tf.wasm.setWasmPaths(_page_url(wasm_dir))
    # On a cross-origin-isolated host TF.js would fetch its threaded wasm build, which the site
    # does not ship (its detector and graph models are too small to gain from threads): keep it
    # on the SIMD build there too, so a host that adds COEP does not break the page.
    js.tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", False)
    try:
        ok = await settle(js.tf, "setBackend", name)
        if ok:
            await settle(js.tf, "ready")
    except JsError as exc:
        return str(exc)
    return None if ok else "did not initialise"


def backend() -> str:
    return str(js.tf.getBackend())


def version() -> str:
    return str(js.tf.version.tfjs)


def on_context_lost(callback) -> None:
    """Call ``callback()`` if the WebGL backend's context is lost (GPU reset, driver update,
    too many contexts). A no-op on other backends."""
    if backend() != "webgl":
        return
    canvas = js.tf.backend().gpgpu.gl.canvas
    canvas.addEventListener("webglcontextlost", create_proxy(lambda event: callback()), _once())


def _once():
    return to_js({"once": True}, dict_converter=js.Object.fromEntries)


def memory() -> dict:
    mem = js.tf.memory()
    return {"tensors": int(mem.numTensors), "bytes": int(mem.numBytes)}


def wasm_heap_bytes() -> int | None:
    """TF.js's WebAssembly memory while the wasm backend runs; None on another backend."""
    try:
        return int(js.tf.backend().wasm.HEAPU8.length) if str(js.tf.getBackend()) == "wasm" else None
    except Exception:  # noqa: BLE001 - a backend being replaced
        return None


async def fetch_checked(folder: str, name: str, manifest: Manifest):
    """Fetch ``folder/name`` (as built: site_files); check it against the manifest's sha256;
    return (ArrayBuffer, bytes)."""
    url = f"{folder}/{name}"
    expected = {f.name: f.sha256 for f in manifest.files}
    if name not in expected:
        raise ModelLoadError(f"{url}: the model needs this file but {manifest.id}'s manifest does not list it")
    try:
        buffer, data = await fetch_site_file(url)
    except FetchError as exc:
        raise ModelLoadError(str(exc)) from None
    got = hashlib.sha256(data).hexdigest()
    if got != expected[name]:
        raise ModelLoadError(str(DamagedFile(url, f"{len(data)} bytes with sha256 {got}; "
                                                  f"its manifest lists sha256 {expected[name]}")))
    return buffer, data


def site_reader(folder: str, manifest: Manifest):
    """Reads a model's files from the site, each checked against the manifest."""
    async def read(name: str):
        return await fetch_checked(folder, name, manifest)
    return read


class Leased:
    """What every model runtime shares (TF.js here, onnxruntime-web in onnx.py): work that holds
    the model across awaits (``lease``), freeing it once retired, and timing it. A subclass sets
    ``_users = 0`` and ``_retired = False`` and has ``dispose`` and ``_run_once``."""

    @contextmanager
    def lease(self):
        """Hold the model for a piece of work that awaits in between (a camera frame, a photo):
        a model retired meanwhile (a switch to another) is freed when the last lease ends."""
        self._users += 1
        try:
            yield self
        finally:
            self._users -= 1
            if self._retired and self._users == 0:
                self.dispose()

    def retire(self) -> None:
        """No new work will use this model: free it now, or when its last lease ends."""
        self._retired = True
        if self._users == 0:
            self.dispose()

    async def time_ms(self, runs: int = 3) -> float:
        """Median milliseconds of ``runs`` predictions (call ``warm_up`` first)."""
        times = []
        for _ in range(runs):
            started = js.performance.now()
            await self._run_once()
            times.append(js.performance.now() - started)
        return sorted(times)[len(times) // 2]


class Model(Leased):
    """A TF.js model (graph, layers or TFLite) with the manifest that describes it.

    ``load(where, manifest, read)``: ``read(name)`` returns a file's (ArrayBuffer, bytes):
    fetched and hash-checked for the site's models, read from disk for a person's own.
    """

    def __init__(self, manifest: Manifest, url: str, artifacts):
        self.manifest, self.url, self.artifacts = manifest, url, artifacts
        self.model = None
        self._inputs: dict[int, tuple] = {}  # batch size -> (Float32Array, shape array)
        self._users = 0  # inferences or photos using the model right now (see lease)
        self._retired = False

    @classmethod
    async def load(cls, where: str, manifest: Manifest, read=None) -> Model:
        """Read, check and build the model whose files ``read`` returns (default: the site's ``where``)."""
        read = read or site_reader(where, manifest)
        url = f"{where}/{manifest.entry}"
        if manifest.format == "onnx":
            from .onnx import OnnxModel  # onnxruntime-web is imported only when an ONNX model is chosen

            return await OnnxModel.load(where, manifest, read)
        if manifest.format == "tflite":
            buffer, _ = await read(manifest.entry)
            self = cls(manifest, url, buffer)
            load_tflite_runtime()
            await self.reload()
            return self
        _, text = await read(manifest.entry)
        try:
            spec = json.loads(text)
            groups = spec["weightsManifest"]
            spec["modelTopology"]
            # Parsed again by JS for TF.js: a Python round trip would turn JSON nulls (common in
            # Keras layer configs) into undefined, which TF.js's deserializer cannot read.
            spec_js = js.JSON.parse(text.decode("utf-8"))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, JsException) as exc:
            raise ModelLoadError(f"{url}: not a TF.js model file ({exc})") from None
        parts = []
        for group in groups:
            for path in group["paths"]:
                parts.append((await read(path))[0])
        artifacts = js.Object.new()
        for key in ("format", "generatedBy", "convertedBy", "signature", "userDefinedMetadata", "modelTopology"):
            if key in spec:
                setattr(artifacts, key, getattr(spec_js, key))
        artifacts.weightSpecs = js.Array.prototype.concat.apply(
            js.Array.new(), to_js([g.weights for g in spec_js.weightsManifest]))
        artifacts.weightData = _concat(parts)
        self = cls(manifest, url, artifacts)
        await self.reload()
        return self

    async def reload(self) -> None:
        """(Re)build the model on the current backend from the checked bytes."""
        old, self.model = self.model, None
        if old is not None and hasattr(old, "dispose"):  # a TFLite model has no dispose()
            try:
                old.dispose()
            except JsException:  # its backend is gone (context lost): nothing left to free
                pass
        try:
            if self.manifest.format == "tflite":
                self.model = await settle(_tflite(), "loadTFLiteModel", self.artifacts)
            else:
                loader = "loadGraphModel" if self.manifest.format == "tfjs-graph" else "loadLayersModel"
                self.model = await settle(js.tf, loader, js.tf.io.fromMemory(self.artifacts))
        except (JsError, JsException) as exc:
            raise ModelLoadError(f"{self.url}: TF.js could not build the {self.manifest.format} model "
                                 f"({exc})") from None
        try:
            inputs = self.model.inputs
            in_shape = inputs[0].shape if inputs and len(inputs) else None
            check_model_shapes(self.manifest, in_shape.to_py() if in_shape else None, None)
        except ManifestError as exc:
            self.dispose()
            raise ModelLoadError(f"{self.url}: {exc}") from None

    async def predict(self, batch, size: int | None = None):
        """(N, h, w, c) float32 ndarray -> the model's output as float32, batch first: the first
        output, or the one with ``size`` values per item when the model has several."""
        import numpy as np

        if self.manifest.format == "tflite" and batch.shape[0] > 1:
            # A .tflite graph has a fixed batch size of 1: one call per face.
            return np.concatenate([await self.predict(batch[i : i + 1], size) for i in range(batch.shape[0])])
        n = batch.shape[0]
        buffer, shape = self._input(n)
        buffer.assign(np.ascontiguousarray(batch, dtype=np.float32))
        x = js.tf.tensor(buffer, shape, "float32")
        y = None
        try:
            y = _first_output(self.model.predict(x), size)
            data = await read_values(y)
            out_shape = tuple(y.shape.to_py())
        finally:
            x.dispose()
            if y is not None:
                y.dispose()
        out = np.empty(out_shape, dtype=np.float32)
        data.assign_to(out)
        return out

    async def _run_once(self) -> int:
        """One prediction on zeros, as a frame's goes (a tensor made from a Float32Array, the
        output read back), without NumPy: it runs while NumPy is still being installed.
        Returns the output's values per item."""
        buffer, shape = self._input(1)
        x = js.tf.tensor(buffer, shape, "float32")
        y = None
        try:
            y = _first_output(self.model.predict(x))
            await read_values(y)
            return int(y.size) // max(1, int(y.shape[0]))
        finally:
            x.dispose()
            if y is not None:
                y.dispose()

    async def warm_up(self) -> None:
        """Run once so the first real frame does not pay for kernel set-up, and check the output
        size against the manifest (graph models often do not declare it)."""
        per_item = await self._run_once()
        if self.manifest.kind == "emotion":
            try:
                check_model_shapes(self.manifest, None, per_item)
            except ManifestError as exc:
                raise ModelLoadError(f"{self.url}: {exc}") from None

    def _input(self, n: int):
        if n not in self._inputs:
            h, w, c = self.manifest.input.shape
            self._inputs[n] = (js.Float32Array.new(n * h * w * c), to_js([n, h, w, c]))
        return self._inputs[n]

    def dispose(self) -> None:
        if self.model is not None and hasattr(self.model, "dispose"):  # a TFLite model has none
            self.model.dispose()
        self.model = None


# Backends whose ``data()`` is their ``dataSync()`` wrapped in a promise (TF.js's wasm and cpu
# backends: ``async read(dataId) { return this.readSync(dataId); }``).
SYNC_READ = ("wasm", "cpu")


async def read_values(tensor):
    """A tensor's values (a TypedArray). On a backend in ``SYNC_READ`` they are read at once:
    awaiting ``data()`` there waits for nothing, but costs a promise and a turn of Python's event
    loop per model run, two a camera frame (unthrottled, 55-60 results a second against 42-59 in
    three runs of each, in turns, 2026-12-07). WebGL's values come from the GPU: awaited."""
    if backend() in SYNC_READ:
        try:
            return tensor.dataSync()
        except JsException as exc:
            raise JsError(*describe(exc)) from None
    return await settle(tensor, "data")


def _first_output(result, size: int | None = None):
    """A model's output tensor: the only one, else the first (or the first with ``size`` values
    per item) of an array or a name -> tensor map; the others are disposed."""
    if hasattr(result, "dataSync"):
        return result
    outputs = list(result) if hasattr(result, "length") else [result[k] for k in js.Object.keys(result)]
    chosen = outputs[0]
    if size is not None:
        chosen = next((t for t in outputs if int(t.size) // max(1, int(t.shape[0])) == size), chosen)
    for other in outputs:
        if other is not chosen:
            other.dispose()
    return chosen


def _concat(buffers):
    """One ArrayBuffer from several (a model's weight shards, in manifest order)."""
    if len(buffers) == 1:
        return buffers[0]
    total = sum(int(b.byteLength) for b in buffers)
    out = js.Uint8Array.new(total)
    offset = 0
    for b in buffers:
        out.set(js.Uint8Array.new(b), offset)
        offset += int(b.byteLength)
    return out.buffer
