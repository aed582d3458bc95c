// Until Python runs, only JavaScript can tell a person that loading failed: a runtime or
// library file that is missing or damaged, or a browser without WebAssembly. Once Python is
// up, moodlens.browser.app reports everything itself. Kept to what needs JavaScript.
// Chromium 156 offers WebAssembly JS Promise Integration (JSPI), which Pyodide 0.27.7 then
// uses to switch stacks. Here the page's renderer crashed in 1 of 40 eight-second sessions
// with it (and twice in one CI run), and in 0 of 100 with it hidden; Pyodide's own fallback
// path needs nothing from it (Moodlens never blocks on JavaScript from Python). Hide it until
// a Pyodide/Chromium pairing is known good.
if (typeof WebAssembly === "object") {
  window.moodlensJspi = "Suspending" in WebAssembly; // for the page's capability report
  delete WebAssembly.Suspending;
  delete WebAssembly.promising;
}

(() => {
  const base = new URL(".", location.href);
  // The same words as Python's start-up failure (moodlens.browser.app), so a failure reads the
  // same whichever side reports it.
  const advice = " Reload to try again; if it keeps happening, the site's files are damaged: " +
    "tell whoever hosts this page.";
  let expected = null; // files.json, written by build.py: path -> size in bytes

  // Python marks the "python" stage done as soon as it runs; from then on it reports failures
  // itself (more precisely), and this script stays out of the way.
  const pythonRunning = () => document.querySelector('[data-stage="python"].done') !== null;
  const loading = () => document.body && document.body.dataset.state === "loading" && !pythonRunning();
  const show = (message) => {
    if (!loading()) return;
    if (window.moodlensEarly) window.moodlensEarly.fail(); // no app will take the camera over
    document.body.dataset.state = "error";
    document.getElementById("status").textContent = message;
  };
  const relative = (url) => (url.startsWith(base.href) ? url.slice(base.href.length) : url);
  // moodlens.browser.site_files.damaged_message, word for word. One owner per file: this side
  // checks what the boot loads, Python everything under models/ (it fetches those itself).
  const damagedMessage = (files) =>
    `${files.map(([path, detail]) => `${path} (${detail})`).join(", ")} ${files.length === 1 ? "is" : "are"} ` +
    "missing or damaged";

  // Files that came back with an HTTP error, or shorter or longer than build.py wrote them.
  async function damaged() {
    if (expected === null) {
      try { expected = await (await fetch("files.json")).json(); } catch { expected = {}; }
    }
    const found = new Map(); // path -> detail, once per file however often it was fetched
    for (const entry of performance.getEntriesByType("resource")) {
      const path = relative(entry.name.split("?")[0]);
      if (path.startsWith("models/")) continue; // Python's (moodlens.browser.site_files)
      // responseStatus: Chromium and Firefox; WebKit has none, and a size that differs says it.
      if (entry.responseStatus >= 400) found.set(path, `HTTP ${entry.responseStatus}`);
      else if (path in expected && entry.decodedBodySize && entry.decodedBodySize !== expected[path]) {
        found.set(path, `${entry.decodedBodySize} bytes, expected ${expected[path]}`);
      }
    }
    return [...found];
  }
  async function fail(message) {
    const files = loading() ? await damaged() : [];
    show(files.length ? `Moodlens could not start: ${damagedMessage(files)}.${advice}` : message + advice);
  }

  if (typeof WebAssembly !== "object") {
    addEventListener("DOMContentLoaded", () => show("This browser cannot run WebAssembly, which Moodlens needs. " +
      "Try a current Chrome, Edge, Firefox or Safari."));
  }
  // Resource errors (a <script> or <link> that failed) do not bubble: listen in the capture phase.
  addEventListener("error", (event) => {
    const file = event.target && (event.target.src || event.target.href);
    fail(file ? `Moodlens could not load ${relative(file)}.` : `Moodlens could not start: ${event.message}.`);
  }, true);
  addEventListener("unhandledrejection", (event) => {
    const reason = event.reason && (event.reason.message || event.reason);
    fail(`Moodlens could not start: ${reason}.`);
  });
  // A runtime file that fails inside Pyodide's loader (a WebAssembly compile error, say) can
  // leave start-up waiting forever without an exception: look for such files while loading.
  const watchdog = setInterval(async () => {
    if (!loading()) return clearInterval(watchdog);
    const files = await damaged();
    if (files.length) fail("");
  }, 2000);
})();

// Offline use: sw.js (written by build.py) keeps the site's files, so after one visit the app
// starts without a network. A new deploy installs a new worker; the page then offers to update
// and reloads only when the person says so. The service worker API is JavaScript-only. It
// registers once the app is ready, so filling its cache does not compete with the start.
if ("serviceWorker" in navigator && window.isSecureContext) {
  const whenReady = (register) => {
    const ready = () => ["ready", "running"].includes(document.body.dataset.state);
    if (ready()) return register();
    const watch = new MutationObserver(() => { if (ready()) { watch.disconnect(); register(); } });
    watch.observe(document.body, {attributes: true, attributeFilter: ["data-state"]});
  };
  addEventListener("load", () => whenReady(async () => {
    let registration;
    try {
      registration = await navigator.serviceWorker.register("sw.js");
    } catch (error) {
      console.warn("Moodlens works online only here: the service worker did not register.", error);
      return;
    }
    let accepted = false;
    const offer = (worker) => {
      const banner = document.getElementById("update");
      banner.hidden = false;
      document.getElementById("update-button").onclick = () => { accepted = true; worker.postMessage("update"); };
    };
    navigator.serviceWorker.addEventListener("controllerchange", () => { if (accepted) location.reload(); });
    // An update is a worker waiting behind another, active one. (Not "the page has a controller":
    // on a first visit WebKit reports the first worker "installed" after it has claimed the page.)
    const isUpdate = (worker) => registration.active !== null && registration.active !== worker;
    if (registration.waiting && isUpdate(registration.waiting)) offer(registration.waiting);
    registration.addEventListener("updatefound", () => {
      const worker = registration.installing;
      worker.addEventListener("statechange", () => {
        if (worker.state === "installed" && isUpdate(worker)) offer(worker);
      });
    });
  }));
}

// The camera at once: Start works from the first paint. A click before Python is up opens the
// camera here (only JavaScript can, then), so the person sees themselves, and answers the
// permission prompt, while Python boots; moodlens.browser.sources.camera takes the stream over
// (`take()`) the moment the app is ready and starts the analysis. Errors are left to Python,
// which explains each refusal it takes over. With ?autostart=1 Python calls `open(false)` as
// soon as it has read the URL: the camera then starts while NumPy and the models load (no
// hold: no click is waiting for it), instead of after them.
//
// Camera first: getUserMedia needs four turns of the main thread before the first frame shows,
// and the boot runs tasks of 100-400 ms there (Pyodide's bootstrap after instantiation, PyScript
// unpacking the app and NumPy, the imports; in WebKit up to a second each). While the camera is
// starting, `hold()` keeps the boot from starting the next one: WebAssembly instances (Pyodide's,
// TF.js's) and fetched responses (the files PyScript unpacks, the models) are handed over, and
// Python's start-up goes on, only once the first frame is on screen (or it failed, or HOLD_MS
// passed since the click, for all of them together: a permission prompt the person is reading
// should not stall the boot).
const HOLD_MS = 1500;
const held = (object, name) => {
  const original = object[name];
  if (typeof original === "function") {
    object[name] = function (...args) {
      return original.apply(this, args).then((result) => window.moodlensEarly.hold().then(() => result));
    };
  }
};
if (typeof WebAssembly === "object") ["instantiate", "instantiateStreaming"].forEach((name) => held(WebAssembly, name));
held(window, "fetch");
window.moodlensEarly = (() => {
  let shown = null; // resolves once the early camera's first frame is on screen, it failed, or HOLD_MS passed
  let release = () => {}; // the current Start's
  const early = {
    promise: null, // getUserMedia's promise, until Python takes it
    handedOver: false, // Python listens to Start from then on
    take() { const p = this.promise; this.promise = null; return p; },
    hold() { // a promise: resolved at once unless the early camera is starting
      return shown === null ? Promise.resolve() : shown;
    },
    stop() { // the camera off again (Start was pressed twice)
      const p = this.take();
      if (p) p.then((stream) => stream.getTracks().forEach((t) => t.stop()), () => {});
      const video = document.getElementById("video");
      if (video) video.srcObject = null;
      pressed(false);
      release();
    },
    failed: false, // the app could not start: Start then reloads the page and starts the camera
    fail() { // the camera off; nothing would analyse it (the status says what failed)
      this.stop();
      this.failed = true;
    },
  };
  const pressed = (on) => { // the Start button and the page as the camera is on or off
    const button = document.getElementById("start");
    if (button) {
      button.textContent = on ? "Stop camera" : "Start camera";
      button.setAttribute("aria-pressed", String(on));
    }
    document.body.classList.toggle("early-camera", on);
  };
  // Set up the moment the parser has made the button and the video, before the first paint
  // (DOMContentLoaded comes later: after the deferred TF.js scripts have run).
  const whenParsed = (ids, then) => {
    const found = () => ids.every((id) => document.getElementById(id));
    if (found()) return then();
    const watch = new MutationObserver(() => { if (found()) { watch.disconnect(); then(); } });
    watch.observe(document.documentElement, {childList: true, subtree: true});
  };
  whenParsed(["start", "video", "placeholder"], () => {
    const button = document.getElementById("start");
    const video = document.getElementById("video");
    const devices = navigator.mediaDevices;
    if (!window.isSecureContext || !devices || !devices.getUserMedia) return; // Python says why
    button.disabled = false;
    performance.mark("moodlens:start-enabled");
    early.open = (hold = true) => { // the camera on now; Python takes it over once it is up
      const promise = devices.getUserMedia({audio: false, video: {width: {ideal: 640}, height: {ideal: 480},
                                                                    facingMode: "user"}});
      early.promise = promise;
      let done; // this Start's release: an earlier Start settling late must not end this one's hold
      const mine = new Promise((resolve) => { done = () => { if (shown === mine) shown = null; resolve(); }; });
      if (hold) shown = mine;
      release = done;
      setTimeout(done, HOLD_MS);
      pressed(true);
      promise.then((stream) => {
        if (early.promise !== promise) return done(); // stopped, or Python has it
        video.srcObject = stream;
        if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(() => done());
        else video.addEventListener("playing", () => done(), {once: true});
        video.play().catch(done); // Python plays it again when it takes over
      }, () => { done(); if (early.promise === promise) pressed(false); });
    };
    button.addEventListener("click", () => {
      if (early.handedOver) return;
      if (early.failed) { // a fresh try, as the message asks: the page again, with the camera on
        const again = new URL(location.href);
        again.searchParams.set("autostart", "1");
        return location.assign(again.href);
      }
      if (early.promise) return early.stop(); // pressed again before Python was up
      early.open();
    });
  });
  return early;
})();
