// Moodlens's worker: Pyodide, NumPy, TF.js and the whole app run here, off the page's main
// thread, so the camera picture and the controls stay fluid while Python boots and analyses.
// The page (page.js) owns the DOM and the camera; the app reaches them by message through
// moodlens.browser.remote. This file only starts Python, kept to what needs JavaScript:
// loading the runtime and libraries, and naming a file that arrived missing or damaged.
"use strict";

// Chromium 156 offers WebAssembly JS Promise Integration (JSPI), which Pyodide 0.27.7 then
// uses to switch stacks; the page's renderer crashed in 1 of 40 eight-second sessions with it
// and in 0 of 100 without (Pyodide's own fallback needs nothing from it). Hidden until a
// Pyodide/Chromium pairing is known good.
self.moodlensJspi = typeof WebAssembly === "object" && "Suspending" in WebAssembly;
if (typeof WebAssembly === "object") {
  delete WebAssembly.Suspending;
  delete WebAssembly.promising;
}

// Every WebAssembly module compiled here (Pyodide's, TF.js's) goes to the page, which holds it,
// with the URL it came from (the page then asks the service worker to hold Pyodide's too: sw.js).
// V8 shares a compiled module within the browser's process while anything still holds it, and
// the page's thread outlives this worker across a reload: the next worker then finds the
// modules' machine code ready instead of compiling most of it again (the browser's disk cache
// keeps only about 1 MB of Pyodide's). Measured in Chromium: first emotion after a reload
// 1.04-1.14 s against 1.67-1.87 s without. Where a browser cannot pass a module, nothing changes.
if (typeof WebAssembly === "object" && WebAssembly.instantiateStreaming) {
  const instantiateStreaming = WebAssembly.instantiateStreaming;
  WebAssembly.instantiateStreaming = async (source, imports) => {
    const response = await source;
    const result = await instantiateStreaming(response, imports);
    try { self.postMessage({keep: result.module, url: response.url}); } catch { /* this browser cannot pass it */ }
    return result;
  };
}

// Messages from the page wait here until Python listens (moodlens.browser.remote).
const early = [];
self.onmessage = (event) => early.push(event.data);
self.moodlensEarlyMessages = () => early.splice(0);
// The page's clock for the whole worker: frame times, #results and the app's timings read the
// same as the page's performance.now() (a worker's clock starts when the worker does).
self.moodlensSetClock = (pageTimeOrigin) => {
  const now = performance.now.bind(performance);
  const offset = performance.timeOrigin - pageTimeOrigin;
  performance.now = () => now() + offset;
};
// An ES module from Python (Mediabunny for video files): a classic worker imports one this way.
self.moodlensImport = (url) => import(new URL(url, location.href).href);
// Classic scripts from Python (the TFLite runtime, on first use).
self.moodlensImportScripts = (url) => importScripts(new URL(url, location.href).href);

const base = new URL(".", location.href);
const relative = (url) => (url.startsWith(base.href) ? url.slice(base.href.length) : url);
// moodlens.browser.site_files.damaged_message, word for word.
const damagedMessage = (files) =>
  `${files.map(([path, detail]) => `${path} (${detail})`).join(", ")} ${files.length === 1 ? "is" : "are"} ` +
  "missing or damaged";

// Files the boot fetched that came back with an HTTP error, or shorter or longer than build.py
// wrote them (files.json). Python checks everything under models/ itself.
let expected = null; // files.json, written by build.py: path -> size in bytes
async function damaged() {
  if (expected === null) {
    try { expected = await (await fetch("files.json")).json(); } catch { expected = {}; }
  }
  const found = new Map();
  for (const entry of performance.getEntriesByType("resource")) {
    const path = relative(entry.name.split("?")[0]);
    if (path.startsWith("models/")) continue;
    // responseStatus: Chromium and Firefox; WebKit has none, and a size that differs says it.
    if (entry.responseStatus >= 400) found.set(path, `HTTP ${entry.responseStatus}`);
    else if (path in expected && entry.decodedBodySize && entry.decodedBodySize !== expected[path]) {
      found.set(path, `${entry.decodedBodySize} bytes, expected ${expected[path]}`);
    }
  }
  return [...found];
}

// The words of every start-up failure (moodlens.browser.app, boot.js).
const ADVICE = " Reload to try again; if it keeps happening, the site's files are damaged: " +
  "tell whoever hosts this page.";
let pythonUp = false;
async function fail(reason) {
  if (pythonUp) return; // Python reports its own failures, more precisely
  const files = await damaged();
  self.postMessage({fatal: "Moodlens could not start: " +
    (files.length ? damagedMessage(files) : reason) + "." + ADVICE});
}
self.addEventListener("unhandledrejection", (event) => {
  const reason = event.reason && (event.reason.message || event.reason);
  fail(String(reason));
});

// A runtime file that fails inside Pyodide's loader (a WebAssembly compile error, a missing
// file) can leave the start waiting forever without an exception: look for such files while
// loading.
const watchdog = setInterval(async () => {
  if (pythonUp) return clearInterval(watchdog);
  if ((await damaged()).length) {
    clearInterval(watchdog);
    fail("");
  }
}, 2000);

async function fetchChecked(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path} could not be downloaded (HTTP ${response.status})`);
  return response;
}

// What Python needs unpacked before it runs, and where (written by build.py): the app's package
// and NumPy's wheel, one unpackArchive each (Pyodide unpacks it with Python's zipfile), instead
// of Pyodide's package loader, which also loads every extension module of the package during the
// boot; here NumPy's load as NumPy imports them.
const ARCHIVES = {{archives}};

(async () => {
  if (typeof WebAssembly !== "object") {
    self.postMessage({fatal: "This browser cannot run WebAssembly, which Moodlens needs. " +
      "Try a current Chrome, Edge, Firefox or Safari."});
    return;
  }
  // Everything starts downloading at once: the runtime (whose loader fetches NumPy's wheel
  // once the lock file is read), the app's package and its entry point, while TF.js loads.
  const archives = ARCHIVES.map(([path]) => fetchChecked(path).then((r) => r.arrayBuffer()));
  const main = fetchChecked("main.py").then((r) => r.text());
  archives.forEach((p) => p.catch(() => {}));
  main.catch(() => {});
  let pyodide;
  try {
    // The two big scripts, Pyodide's runtime (pyodide.asm.js) and TF.js, are imported as modules:
    // Chromium keeps their compiled code for the next visit, which it does not for importScripts
    // (measured: 14 + 12 ms against 86 + 42 ms for TF.js and pyodide.asm.js on every start).
    // pyodide.asm.js defines _createPyodideModule, which loadPyodide would otherwise load itself;
    // until the import has run, a stand-in waits for it, so the runtime's other files are asked
    // for at once, not after it.
    const runtime = import("./pyodide/pyodide.asm.js");
    runtime.catch(() => {});
    self._createPyodideModule = async (settings) => {
      await runtime;
      return self._createPyodideModule(settings); // pyodide.asm.js's own, set as it ran
    };
    importScripts("./pyodide/pyodide.js");
    const starting = loadPyodide({indexURL: new URL("./pyodide/", base).href,
                                  stdout: (line) => console.log(line), stderr: (line) => console.warn(line)});
    starting.catch(() => {});
    for (const script of ["tf.min.js", "tf-backend-wasm.min.js"]) {
      try { await import(`./vendor/tfjs/${script}`); } catch { /* moodlens.browser.tfjs names the file */ }
    }
    pyodide = await starting;
    for (let i = 0; i < ARCHIVES.length; i++) {
      pyodide.unpackArchive(await archives[i], "zip", {extractDir: ARCHIVES[i][1]});
    }
  } catch (error) {
    return fail(error && error.message ? error.message : String(error));
  }
  pythonUp = true;
  try {
    await pyodide.runPythonAsync(await main, {filename: "main.py"});
  } catch (error) {
    console.error(error);
  }
})();
