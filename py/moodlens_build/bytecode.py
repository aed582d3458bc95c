"""Python bytecode made at build time, so no start compiles a module.

npm's ``python_stdlib.zip`` for Pyodide 0.27.7 and the Pyodide NumPy wheel hold ``.py`` files
only: every start compiles each module it imports (json, asyncio, numpy's Python half, ...).
Here each archive is rewritten with its modules compiled by Pyodide's own Python 3.12 (run under
Node.js from the same npm package, so the bytecode's magic number is the one the page checks):

- ``sourceless``: ``x.py`` becomes ``x.pyc`` beside it (the layout zipimport and Python's
  SourcelessFileLoader read); the stdlib and NumPy. Their tracebacks show no source lines.
- ``cached``: ``x.py`` stays, ``__pycache__/x.cpython-312.pyc`` is added as an *unchecked
  hash-based* pyc (PEP 552: used without comparing against the source, whose timestamps in an
  unpacked zip mean nothing); moodlens.zip, so its tracebacks keep their source lines.

The same pass leaves out stdlib modules the page never imports (``omit``). Pyodide's own
``pyodide py-compile`` (pyodide-build) does the ``sourceless`` rewrite; it needs a host
CPython 3.12 and pyodide-build, which the build machine may not have, hence this small pass.
Results are cached by the inputs' sha256 in ``.cache/pyc``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from .steps import BuildError, sha256

NODE_SCRIPT = r"""
import { loadPyodide } from "%(pyodide)s/pyodide.mjs";
import { readFileSync } from "node:fs";
// No column tables in the code objects (PEP 657's carets in tracebacks): a quarter of each .pyc.
const py = await loadPyodide({ indexURL: "%(pyodide)s/", env: { PYTHONNODEBUGRANGES: "1", HOME: "/home/pyodide" } });
py.FS.mkdir("/host");
py.FS.mount(py.FS.filesystems.NODEFS, { root: "%(work)s" }, "/host");
py.runPython(readFileSync("%(work)s/compile.py", "utf8"));
"""

# Runs inside Pyodide: /host/jobs.json -> the rewritten archives.
COMPILE_PY = r'''
import ast, base64, fnmatch, hashlib, importlib._bootstrap_external as ext, importlib.util, json, sys, zipfile

class EmptyDocs(ast.NodeTransformer):
    """Docstrings (and the docs NumPy attaches with add_newdoc) become "": they still are str,
    as code such as NumPy's add_docstring requires, unlike `-OO`, which makes them None."""
    def _doc(self, node):
        self.generic_visit(node)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body[0].value.value = ""
        return node
    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _doc

    def visit_Call(self, node):
        self.generic_visit(node)
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name.startswith("add_newdoc"):
            for arg in node.args[2:]:
                for const in ast.walk(arg):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str) and len(const.value) > 40:
                        const.value = ""
        return node

def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

def matches(name, pattern):
    return name.startswith(pattern) if pattern.endswith("/") else fnmatch.fnmatchcase(name, pattern)

def dropped(name, omit):
    keep = [p[1:] for p in omit if p.startswith("!")]
    return any(matches(name, p) for p in omit if not p.startswith("!")) and not any(matches(name, p) for p in keep)

for job in json.load(open("/host/jobs.json")):
    src, dest, mode, where = job["src"], job["dest"], job["mode"], job["where"]
    records = {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        def put(name, data, like):
            info = zipfile.ZipInfo(name, date_time=like.date_time)
            info.external_attr = like.external_attr
            zout.writestr(info, data, zipfile.ZIP_DEFLATED, 9)
            records[name] = (record_hash(data), len(data))
        record = None
        for info in zin.infolist():
            name = info.filename
            if dropped(name, job["omit"]) or name.endswith((".pyc", "/")):
                continue
            data = zin.read(info)
            if name.endswith(".dist-info/RECORD"):
                record = (info, data)
                continue
            if not name.endswith(".py"):
                put(name, data, info)
                continue
            source = data
            if job["docs"] == "empty":
                source = EmptyDocs().visit(ast.parse(data, where + name))
            code = compile(source, where + name, "exec", dont_inherit=True, optimize=job["optimize"])
            if mode == "sourceless":
                put(name + "c", ext._code_to_timestamp_pyc(code, 0, len(data)), info)
            else:
                put(name, data, info)
                folder, _, base = name.rpartition("/")
                cached = f"{folder + '/' if folder else ''}__pycache__/{base[:-3]}.{sys.implementation.cache_tag}.pyc"
                put(cached, ext._code_to_hash_pyc(code, importlib.util.source_hash(data), checked=False), info)
        if record is not None:  # a wheel: its RECORD lists the files as they now are
            info, _ = record
            lines = [f"{n},{h},{s}" for n, (h, s) in records.items()] + [f"{info.filename},,"]
            put(info.filename, ("\n".join(lines) + "\n").encode(), info)
'''


def compile_archives(jobs: list[dict], pyodide_dir: Path, cache: Path) -> list[Path]:
    """Each job: ``src`` (a zip or wheel), ``name`` (the output's file name), ``mode``
    (``sourceless`` or ``cached``), ``where`` (the folder Python will see it at, for code
    objects' file names) and ``omit`` (members left out: ``folder/`` prefixes or fnmatch
    patterns; ``!pattern`` keeps what it matches); optionally ``optimize`` (as ``compile``'s) and
    ``docs``: ``"empty"`` compiles docstrings as "" (see EmptyDocs). Returns the
    rewritten archives, made once per distinct input."""
    key = hashlib.sha256()
    key.update((NODE_SCRIPT + COMPILE_PY).encode())
    key.update(sha256(pyodide_dir / "pyodide.asm.wasm").encode())
    for job in jobs:
        key.update(sha256(Path(job["src"])).encode())
        key.update(json.dumps({k: v for k, v in job.items() if k != "src"}, sort_keys=True).encode())
    out = cache / key.hexdigest()[:16]
    results = [out / job["name"] for job in jobs]
    if all(p.exists() for p in results):
        return results
    work = out.with_suffix(".work")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    host_jobs = []
    for i, job in enumerate(jobs):
        shutil.copyfile(job["src"], work / f"in{i}.zip")
        host_jobs.append({"src": f"/host/in{i}.zip", "dest": f"/host/out{i}.zip", "mode": job["mode"],
                          "where": job["where"], "omit": job.get("omit", []),
                          "optimize": job.get("optimize", 0), "docs": job.get("docs", "keep")})
    (work / "jobs.json").write_text(json.dumps(host_jobs))
    (work / "compile.py").write_text(COMPILE_PY)
    script = NODE_SCRIPT % {"pyodide": pyodide_dir.as_posix(), "work": work.as_posix()}
    if shutil.which("node") is None:
        raise BuildError("node not found: install Node.js 20+ (it runs Pyodide's Python to compile the bytecode)")
    done = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"compiling bytecode under Pyodide failed:\n{done.stderr[-2000:]}")
    out.mkdir(parents=True, exist_ok=True)
    for i, result in enumerate(results):
        (work / f"out{i}.zip").rename(result)
    shutil.rmtree(work)
    return results
