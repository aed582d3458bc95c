"""Awaiting JavaScript promises from Python (browser/_js.py), run in Pyodide 0.27.7 itself under
Node.js: every kind of rejection becomes a readable JsError, where a plain ``await`` hangs."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from moodlens_build.paths import NODE, ROOT

PYODIDE = NODE / "pyodide"

SCRIPT = r"""
import { loadPyodide } from "%(pyodide)s/pyodide.mjs";
import { readFileSync } from "node:fs";
// Pyodide's own reject handler fails on a stackless error: Node would exit on that rejection.
const unhandled = [];
process.on("unhandledRejection", (reason) => unhandled.push(String(reason && reason.message || reason)));
const py = await loadPyodide({ indexURL: "%(pyodide)s/" });
py.FS.writeFile("/home/pyodide/_js.py", readFileSync("%(module)s"));
// What JavaScriptCore (WebKit) rejects with: an Error subclass without a `stack` property.
class OverconstrainedError extends Error {}
Object.defineProperty(OverconstrainedError.prototype, "name", { value: "OverconstrainedError" });
const stackless = (message) => { const e = new OverconstrainedError(message); delete e.stack; return e; };
globalThis.target = {
  ok: (a, b) => Promise.resolve(a + b),
  webkit: () => Promise.reject(stackless("Invalid constraint")),
  dom: () => Promise.reject(new DOMException("denied", "NotAllowedError")),
  plain: () => Promise.reject({ name: "AbortError", message: "gone" }),
  text: () => Promise.reject("just a string"),
  nothing: () => Promise.reject(undefined),
  throws: () => { throw new TypeError("thrown at once"); },
};
const out = await py.runPythonAsync(`
import asyncio, json
import js
from _js import JsError, settle

async def outcome(method, *args):
    try:
        return {"value": await settle(js.target, method, *args)}
    except JsError as exc:
        return {"name": exc.name, "message": exc.message}

async def naive(method):
    try:
        await asyncio.wait_for(getattr(js.target, method)(), 1.0)
    except asyncio.TimeoutError:
        return "hangs"
    except Exception as exc:
        return type(exc).__name__
    return "resolved"

results = {m: await outcome(m) for m in ("webkit", "dom", "plain", "text", "nothing", "throws")}
results["ok"] = await outcome("ok", 2, 3)
results["naive_webkit"] = await naive("webkit")
results["naive_dom"] = await naive("dom")
json.dumps(results)
`);
const results = JSON.parse(out);
results.unhandled = unhandled;
console.log(JSON.stringify(results));
process.exit(0);
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    if shutil.which("node") is None or not (PYODIDE / "pyodide.mjs").exists():
        pytest.fail("needs Node.js and the npm packages (python3 build.py installs them)")
    script = tmp_path_factory.mktemp("node") / "settle.mjs"
    script.write_text(SCRIPT % {"pyodide": PYODIDE, "module": ROOT / "py" / "moodlens" / "browser" / "_js.py"})
    done = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_plain_await_of_a_stackless_rejection_hangs_in_pyodide_0_27(outcomes):
    """The root cause: Pyodide turns a rejection into an exception only if it has a stack (or is
    a DOMException); WebKit's errors have none, so the coroutine never resumes."""
    assert outcomes["naive_webkit"] == "hangs"
    assert any("invalid exception object" in u for u in outcomes["unhandled"]), outcomes["unhandled"]
    assert outcomes["naive_dom"] == "JsException"


@pytest.mark.parametrize("method, name, message", [
    ("webkit", "OverconstrainedError", "Invalid constraint"),
    ("dom", "NotAllowedError", "denied"),
    ("plain", "AbortError", "gone"),
    ("text", "Error", "just a string"),
    ("nothing", "Error", "no reason given"),
    ("throws", "TypeError", "thrown at once"),
])
def test_settle_turns_every_rejection_into_a_readable_error(outcomes, method, name, message):
    assert outcomes[method] == {"name": name, "message": message}


def test_settle_returns_what_the_promise_resolves_to(outcomes):
    assert outcomes["ok"] == {"value": 5}
