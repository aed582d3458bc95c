"""dist/ itself: the runtime, the compiled stdlib and wheels, the app's zip, the vendored
libraries, the models, index.html with its CSP, worker.js with the archives it unpacks, the
headers file, the file list worker.js checks and the service worker with its precache."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tomllib
import zipfile
from html import escape as html_escape
from pathlib import Path

from moodlens import manifest as manifests
from moodlens.bars import bar_items

from . import bytecode
from .deps import npm_packages
from .model_files import MODELS, copy_model, model_manifests
from .paths import CACHE, DIST, NODE, ROOT
from .steps import BuildError, copy, log, settings, sha256
from .wheels import pyodide_wheels, slim_wheel

PYODIDE_CORE = ("pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")  # + the lock, rewritten
TFJS_FILES = {
    # The ES2017 bundles: the ES5 ones carry core-js/regenerator polyfills that call
    # Function(...) at load, which the Content-Security-Policy (rightly) refuses.
    "@tensorflow/tfjs/dist/tf.es2017.min.js": "tf.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.es2017.min.js": "tf-backend-wasm.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm": "tfjs-backend-wasm.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm": "tfjs-backend-wasm-simd.wasm",
}
# Not shipped: tfjs-backend-wasm-threaded-simd.wasm. TF.js picks it only when the page is
# cross-origin isolated (SharedArrayBuffer), which this site is not (and on 2 cores it was no
# faster, docs/performance.md). The plain .wasm is for browsers without wasm SIMD: shipped,
# fetched only there, cached on first use.
TFJS_PRECACHED = ("tf.min.js", "tf-backend-wasm.min.js", "tfjs-backend-wasm-simd.wasm")
# The scripts worker.js imports as modules, in its order. The service worker caches them as it
# activates, not at install, and codecache.js runs them once from there on a first visit: see
# site/sw.js for why.
WORKER_MODULES = ("pyodide/pyodide.asm.js", "vendor/tfjs/tf.min.js", "vendor/tfjs/tf-backend-wasm.min.js")
# The WebAssembly the service worker holds compiled while it runs: see site/sw.js.
SW_HELD = "pyodide/pyodide.asm.wasm"
# @tensorflow/tfjs-tflite, loaded by the page only when a .tflite model is chosen. No threaded
# build: threads need cross-origin isolation, which the site does not ask for.
TFLITE_FILES = {
    "@tensorflow/tfjs-tflite/dist/tf-tflite.es2017.min.js": "tf-tflite.min.js",
    "@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc.js": "tflite_web_api_cc.js",
    "@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc.wasm": "tflite_web_api_cc.wasm",
    "@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.js": "tflite_web_api_cc_simd.js",
    "@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.wasm": "tflite_web_api_cc_simd.wasm",
}
# onnxruntime-web, imported by the worker only when an ONNX model is chosen: the wasm-only ES
# module and its one WebAssembly build (SIMD; it runs single-threaded here, as the site is not
# cross-origin isolated). Not shipped: the WebGL/WebGPU/JSPI builds and the asyncify one.
ORT_FILES = {
    "onnxruntime-web/dist/ort.wasm.min.mjs": "ort.wasm.min.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs": "ort-wasm-simd-threaded.mjs",
    "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm": "ort-wasm-simd-threaded.wasm",
}
# Mediabunny (video mode's container reader), imported by the worker when a video is chosen.
MEDIABUNNY_FILES = {
    "mediabunny/dist/bundles/mediabunny.min.mjs": "mediabunny.min.mjs",
    "mediabunny/LICENSE": "LICENSE.txt",  # MPL-2.0: the licence travels with the file
}


def zip_package(src: Path, dest: Path) -> None:
    """py/moodlens, all of it -> a zip worker.js unpacks into Pyodide's working directory. Fixed dates: the same sources give the same bytes (and reuse the
    cached bytecode)."""
    files = {path.relative_to(src.parent).as_posix(): path.read_bytes() for path in sorted(src.rglob("*.py"))}
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, zipfile.ZIP_DEFLATED, 9)


def notice(models: list[manifests.Manifest]) -> str:
    text = (ROOT / "site" / "NOTICE.txt").read_text(encoding="utf-8")
    lines = [f"- {m.id}: {m.credit}. Licence: {m.license}. "
             f"From {m.source.registry} {m.source.package}@{m.source.version}." for m in models]
    return text.rstrip() + "\n\nModels\n" + "\n".join(lines) + "\n"


def site_headers() -> dict[str, str]:
    """The production headers from site/headers.toml, as name -> value."""
    with open(ROOT / "site" / "headers.toml", "rb") as fh:
        conf = tomllib.load(fh)
    csp = "; ".join(f"{name} {' '.join(values)}" for name, values in conf["content-security-policy"].items())
    permissions = ", ".join(f"{name}=({value})" for name, value in conf["permissions-policy"].items())
    return {"Content-Security-Policy": csp, "Permissions-Policy": permissions, **conf["headers"]}


def meta_csp(csp: str) -> str:
    """The CSP for a <meta> tag: browsers ignore (and warn about) frame-ancestors there."""
    return "; ".join(d for d in csp.split("; ") if not d.startswith(("frame-ancestors", "report-uri", "sandbox")))


# The web app manifest: installable on phones and desktops; paths relative, so any sub-path works.
WEB_MANIFEST = {
    "name": "Moodlens",
    "short_name": "Moodlens",
    "description": "Facial emotion recognition that runs entirely on your device.",
    "start_url": "./index.html",
    "scope": "./",
    "display": "standalone",
    "background_color": "#111217",
    "theme_color": "#111217",
    "icons": [
        {"src": "icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": "icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
        {"src": "icons/maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
    ],
}


def precache(staging: Path, wheels: list[Path], models: list[manifests.Manifest], conf: dict) -> list[str]:
    """What the service worker fetches at install: everything a start and photo mode need.
    Optional files (other models, landmarks, the TFLite runtime) are cached on first use."""
    needed = ["index.html", "boot.js", "page.js", "worker.js", "style.css", "main.py", "moodlens.zip", "files.json",
              "manifest.webmanifest", "models/index.json"]
    needed += [f"pyodide/{name}" for name in (*PYODIDE_CORE, "pyodide-lock.json")]
    needed += [f"pyodide/{w.name}" for w in wheels if w.name.startswith("numpy-")]
    needed += [f"vendor/tfjs/{name}" for name in TFJS_PRECACHED]
    needed += [f"icons/{p.name}" for p in sorted((staging / "icons").iterdir())]
    detectors = [m.id for m in models if m.kind == "detector"][:1] + list(conf.get("photo-detectors", []))
    emotion = [m.id for m in models if m.kind == "emotion"][:1]
    for model_id in dict.fromkeys(detectors + emotion):
        needed += [f"models/{model_id}/{p.name}" for p in sorted((staging / "models" / model_id).iterdir())]
    missing = [p for p in needed if not (staging / p).is_file()]
    if missing:
        raise BuildError(f"the service worker's precache names files dist/ lacks: {missing}")
    return needed


def fill(staging: Path, name: str, values: dict[str, object]) -> None:
    """site/``name`` written to ``staging`` with each ``{{key}}`` replaced by its value as JSON."""
    text = (ROOT / "site" / name).read_text(encoding="utf-8")
    for key, value in values.items():
        if "{{" + key + "}}" not in text:
            raise BuildError(f"site/{name} has no {{{{{key}}}}} placeholder")
        text = text.replace("{{" + key + "}}", json.dumps(value))
    (staging / name).write_text(text, encoding="utf-8")


def write_service_worker(staging: Path, precached: list[str]) -> None:
    """sw.js with the site's version (a hash of every file's content), file list, precache, the
    worker's module scripts and the WebAssembly it holds compiled."""
    files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for name in files:
        digest.update(f"{name}\0{sha256(staging / name)}\n".encode())
    missing = [m for m in WORKER_MODULES + (SW_HELD,) if m not in precached]
    if missing:
        raise BuildError(f"the precache lacks {missing}, which the service worker needs cached")
    fill(staging, "sw.js", {"version": digest.hexdigest()[:16], "files": files + ["sw.js"],
                            "precache": precached, "modules": list(WORKER_MODULES), "held": SW_HELD})


def naming_form(prefix: str) -> str:
    """The form under a timeline's table that names a person (``browser/timeline_view.py``), with
    what the page says there about face descriptors (docs/people.md#privacy)."""
    return (f'<form id="{prefix}-naming" class="naming" hidden>'
            f'<label for="{prefix}-person">Name</label> '
            f'<select id="{prefix}-person" aria-label="The person to name"></select> '
            f'<label for="{prefix}-person-name">as</label> '
            f'<input id="{prefix}-person-name" type="text" maxlength="60" autocomplete="off" placeholder="Alice"> '
            f'<button type="submit" id="{prefix}-person-save">Save name</button>'
            '<span class="hint">People are told apart by face descriptors computed on this device. They stay in '
            "this page's memory and are never sent, saved or put in a download; names go into the downloads.</span>"
            '</form>')


def write_site(staging: Path, wheels: list[Path], models: list[manifests.Manifest]) -> None:
    """index.html with its CSP meta tag, and the headers file Netlify reads."""
    headers = site_headers()
    html = (ROOT / "site" / "index.html").read_text(encoding="utf-8")
    for placeholder in ("{{csp}}", "{{models}}", "{{bars}}", "{{naming:live}}", "{{naming:video}}"):
        if placeholder not in html:
            raise BuildError(f"site/index.html has no {placeholder} placeholder")
    html = html.replace("{{csp}}", meta_csp(headers["Content-Security-Policy"]))
    defaults = [m for m in models if m.kind == "detector"][:1] + [m for m in models if m.kind == "emotion"][:1]
    # The picker's list and the default model's bars from the first paint, as Python fills them
    # in, so nothing changes size or moves when it does (a select is as wide as its widest option).
    # The bars' colours are left to Python: the CSP allows no inline style (and at 0% none shows).
    html = html.replace("{{models}}", "".join(
        f'<option value="{m.id}"{" selected" if m is defaults[-1] else ""}>{html_escape(m.name)}</option>'
        for m in models if m.kind == "emotion"))
    html = html.replace("{{bars}}", bar_items([label.name for label in defaults[-1].labels]))
    for prefix in ("live", "video"):
        html = html.replace(f"{{{{naming:{prefix}}}}}", naming_form(prefix))
    (staging / "index.html").write_text(html, encoding="utf-8")
    lines = ["/*"] + [f"  {name}: {value}" for name, value in headers.items()]
    (staging / "_headers").write_text("\n".join(lines) + "\n", encoding="utf-8")


def build(out: Path = DIST, models_folder: Path = MODELS, extra_models: tuple[str, ...] = ()) -> Path:
    """Assemble the site into ``out`` (dist/), with pyproject.toml's models and ``extra_models``,
    each from ``models_folder/<id>/`` (models/). Tests build sites with other models through this
    same code, so every file list and hash matches what is served."""
    conf = settings()["tool"]["moodlens"]
    npm_packages()
    wheels = pyodide_wheels(conf)
    lazy_wheels = pyodide_wheels(conf, conf.get("pyodide-lazy-packages", []))
    models = model_manifests([*conf["models"], *extra_models], models_folder)

    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    for name in PYODIDE_CORE:
        if name != "python_stdlib.zip":  # compiled to bytecode below
            copy(NODE / "pyodide" / name, staging / "pyodide" / name)
    lock = json.loads((NODE / "pyodide" / "pyodide-lock.json").read_text())
    major, minor = lock["info"]["python"].split(".")[:2]  # where Pyodide's Python sees the archives
    stdlib_zip, site_packages = f"/lib/python{major}{minor}.zip/", f"/lib/python{major}.{minor}/site-packages/"
    package_of = {p["file_name"]: name for name, p in lock["packages"].items()}
    omit = conf.get("pyodide-omit", {})
    for group in (wheels, lazy_wheels):
        for i, wheel in enumerate(group):
            package = package_of[wheel.name]
            if package in omit:
                group[i] = slim_wheel(wheel, omit[package], CACHE / "wheels" / "slim")
    package_zip = CACHE / "moodlens.zip"
    zip_package(ROOT / "py" / "moodlens", package_zip)
    # Bytecode made once here, by Pyodide's own Python, instead of at every start in the page.
    # The stdlib as with `python -OO` (no docstrings, no asserts: a third smaller); NumPy and
    # Moodlens keep their asserts, with docstrings compiled as "" (NumPy's add_docstring refuses
    # the None of -OO), and Moodlens its sources (tracebacks with source lines).
    jobs = [{"src": NODE / "pyodide" / "python_stdlib.zip", "name": "python_stdlib.zip", "mode": "sourceless",
             "where": stdlib_zip, "omit": conf.get("stdlib-omit", {}).get("patterns", []),
             "optimize": 2},
            {"src": package_zip, "name": "moodlens.zip", "mode": "cached", "where": "/home/pyodide/", "docs": "empty"}]
    jobs += [{"src": w, "name": w.name, "mode": "sourceless", "where": site_packages, "docs": "empty"}
             for w in wheels + lazy_wheels]
    stdlib, package_zip, *compiled = bytecode.compile_archives(jobs, NODE / "pyodide", CACHE / "pyc")
    wheels, lazy_wheels = compiled[:len(wheels)], compiled[len(wheels):]
    copy(stdlib, staging / "pyodide" / "python_stdlib.zip")
    copy(package_zip, staging / "moodlens.zip")
    for wheel in wheels + lazy_wheels:  # the lazy ones: not unpacked by worker.js nor precached
        lock["packages"][package_of[wheel.name]]["sha256"] = sha256(wheel)
        copy(wheel, staging / "pyodide" / wheel.name)
    (staging / "pyodide" / "pyodide-lock.json").write_text(json.dumps(lock, separators=(",", ":")))
    for src, name in TFJS_FILES.items():
        copy(NODE / src, staging / "vendor" / "tfjs" / name)
    for src, name in TFLITE_FILES.items():
        copy(NODE / src, staging / "vendor" / "tflite" / name)
    for src, name in ORT_FILES.items():
        copy(NODE / src, staging / "vendor" / "ort" / name)
    for src, name in MEDIABUNNY_FILES.items():
        copy(NODE / src, staging / "vendor" / "mediabunny" / name)
    for m in models:
        copy_model(m, staging / "models" / m.id, models_folder)
    index = {kind: [{"id": m.id, "name": m.name} for m in models if m.kind == kind] for kind in manifests.KINDS}
    index["photo_detectors"] = conf.get("photo-detectors", [index["detector"][0]["id"]])
    (staging / "models" / "index.json").write_text(json.dumps(index, indent=1))

    write_site(staging, wheels, models)
    for name in ("style.css", "main.py", "boot.js", "page.js"):
        copy(ROOT / "site" / name, staging / name)
    for icon in sorted((ROOT / "site" / "icons").glob("*.png")):
        copy(icon, staging / "icons" / icon.name)
    (staging / "manifest.webmanifest").write_text(json.dumps(WEB_MANIFEST, indent=1, ensure_ascii=False),
                                                  encoding="utf-8")
    # NumPy's wheel is unpacked into site-packages by worker.js (pyodide.unpackArchive) with our
    # package, instead of by loadPyodide's "packages" (Pyodide's loader unpacks it in Python,
    # then links every extension module, during the boot): 0.15-0.3 s sooner to the first
    # emotion on a cold start. Python links NumPy's extension modules when it imports them.
    archives = [["moodlens.zip", "/home/pyodide/"]] + [[f"pyodide/{w.name}", site_packages] for w in wheels]
    fill(staging, "worker.js", {"archives": archives})
    fill(staging, "codecache.js", {"modules": list(WORKER_MODULES)})
    (staging / "NOTICE.txt").write_text(notice(models), encoding="utf-8")

    sizes = {p.relative_to(staging).as_posix(): p.stat().st_size for p in sorted(staging.rglob("*")) if p.is_file()}
    (staging / "files.json").write_text(json.dumps(sizes, indent=0))  # worker.js names damaged files with it
    write_service_worker(staging, precache(staging, wheels, models, conf))

    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"{out.name}/ ready: {sum(1 for p in out.rglob('*') if p.is_file())} files, {size / 1e6:.1f} MB")
    return out
