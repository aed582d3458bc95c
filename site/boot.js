// Until the app runs, only JavaScript can tell a person that loading failed: a page file that
// is missing, or a browser without WebAssembly or workers. worker.js names a runtime or library
// file that arrived missing or damaged (it loads those); once Python is up, moodlens.browser.app
// reports everything itself. Kept to what needs JavaScript.
(() => {
  const base = new URL(".", location.href);
  // The same words as Python's start-up failure (moodlens.browser.app), so a failure reads the
  // same whichever side reports it.
  const advice = " Reload to try again; if it keeps happening, the site's files are damaged: " +
    "tell whoever hosts this page.";
  // Python marks the "python" stage done as soon as it runs; from then on it reports failures
  // itself (more precisely), and this script stays out of the way.
  const pythonRunning = () => document.querySelector('[data-stage="python"].done') !== null;
  const loading = () => document.body && document.body.dataset.state === "loading" && !pythonRunning();
  // A failed start, said in the page (also page.js's, for what worker.js reports).
  window.moodlensFail = (message) => {
    if (!loading()) return;
    window.moodlensFailed = true; // Start now reloads the page and starts the camera
    if (window.moodlensCamera) window.moodlensCamera.close(); // nothing will analyse it
    const button = document.getElementById("start");
    if (button) { button.textContent = "Start camera"; button.setAttribute("aria-pressed", "false"); }
    document.body.classList.remove("early-camera");
    document.body.dataset.state = "error";
    document.getElementById("status").textContent = message;
  };
  const relative = (url) => (url.startsWith(base.href) ? url.slice(base.href.length) : url);
  const missing = [typeof WebAssembly !== "object" && "WebAssembly", typeof Worker !== "function" && "Web Workers"]
    .filter(Boolean);
  if (missing.length) {
    addEventListener("DOMContentLoaded", () => window.moodlensFail(`This browser cannot run ${missing.join(" or ")}, ` +
      "which Moodlens needs. Try a current Chrome, Edge, Firefox or Safari."));
  }
  // The first paint shows the camera and the controls. The sections under them (photos, video,
  // the footer: [data-later] in index.html, hidden by style.css where scripts run) are laid out
  // in the frames after it, one section a frame: laid out with the rest, they lengthened the
  // page's first frame, often the start's longest task (docs/performance.md, "The first frames").
  // Each appears under what is already shown, so nothing on the screen moves.
  const afterNextFrame = (then) => requestAnimationFrame(() => setTimeout(then));
  const showLater = () => {
    const section = document.querySelector("[data-later]");
    if (!section) return;
    section.removeAttribute("data-later");
    afterNextFrame(showLater);
  };
  addEventListener("DOMContentLoaded", () => afterNextFrame(showLater));
  // Resource errors (a <script> or <link> that failed) do not bubble: listen in the capture phase.
  addEventListener("error", (event) => {
    const file = event.target && (event.target.src || event.target.href);
    window.moodlensFail((file ? `Moodlens could not load ${relative(file)}.` : `Moodlens could not start: ${event.message}.`) +
      advice);
  }, true);
})();

// Offline use: sw.js (written by build.py) keeps the site's files, so after one visit the app
// starts without a network. A new deploy installs a new worker; the page then offers to update
// and reloads only when the person says so. The service worker API is JavaScript-only. It
// registers once the start is over (the app sets body[data-started]: idle and ready, or the
// camera's first result shown), so filling its cache does not compete with the start (capped at
// 0.5 CPU, registering as soon as the camera was starting added 0.3-0.7 CPU s to a first visit's
// start; docs/performance.md).
if ("serviceWorker" in navigator && window.isSecureContext) {
  // then() once holds() is true: now, or when body's `attribute` or the tab's visibility changes.
  const when = (holds, attribute, then) => {
    if (holds()) return then();
    const check = () => {
      if (!holds()) return;
      watch.disconnect();
      document.removeEventListener("visibilitychange", check);
      then();
    };
    const watch = new MutationObserver(check);
    watch.observe(document.body, {attributes: true, attributeFilter: [attribute]});
    document.addEventListener("visibilitychange", check);
  };
  const whenReady = (register) => when(() => document.body.dataset.started !== undefined, "data-started", register);
  // body[data-offline]: the offline copy is in place.
  const offlineReady = () => { document.body.dataset.offline = ""; };
  // On a first visit, once the offline copy is in place and the page analyses no live video (the
  // camera stopped, or the tab hidden): the app worker's scripts run once from the copy, in a
  // worker of their own, so that the next visit finds them compiled (codecache.js); then
  // body[data-compiled]. Not while the camera runs: beside the analysis, on two cores, that run
  // was what made the page's frames late and its tasks long after the first emotion at 4×
  // throttling, which a visitor sees. A visitor who never stops the camera nor leaves the tab
  // gets a second start that compiles them, as before codecache.js (docs/performance.md, "After
  // the first emotion").
  const quiet = () => document.hidden || document.body.dataset.state !== "running";
  let compiling = false; // asked for once a visit
  const compileForNextVisit = () => {
    if (compiling) return;
    compiling = true;
    when(quiet, "data-state", () => {
      const worker = new Worker("codecache.js", {type: "module"});
      worker.onmessage = worker.onerror = () => { worker.terminate(); document.body.dataset.compiled = ""; };
    });
  };
  addEventListener("load", () => whenReady(async () => {
    const first = navigator.serviceWorker.controller === null; // this visit makes the offline copy
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
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (accepted) location.reload();
      else if (first) { offlineReady(); compileForNextVisit(); }
    });
    if (!first) offlineReady();
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
