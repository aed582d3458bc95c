// The page's side of Moodlens. Python, NumPy, TF.js and the app run in a worker (worker.js), so
// nothing they do can hold up this thread; this script is their hands in the page, and holds no
// app logic. It applies the app's page updates (moodlens.browser.remote sends them as a list of
// operations: set a property, toggle a class, show a picture drawn in the worker...), forwards
// the events the app listens to, and does what only the page's own thread can: the camera
// (getUserMedia, the <video>, its frames as VideoFrames transferred to the worker), downloads,
// localStorage and the address bar. Start works from the first paint: the camera opens here at
// once, and the app analyses it as soon as it is up.
"use strict";
(() => {
  const worker = new Worker("./worker.js", {name: "moodlens"});
  window.moodlensWorker = worker; // for the tests' and the benchmark's probes
  const post = (message, transfer = []) => worker.postMessage(message, transfer);
  const refs = new Map(); // the app's handles for elements it made or looked up
  const element = (ref) => (ref === "@body" ? document.body : ref === "@root" ? document.documentElement :
    typeof ref === "string" ? document.getElementById(ref) : refs.get(ref));
  const urls = new Map(); // element -> the blob: URL it shows, revoked when replaced
  const listeners = new Map(); // listener id -> [element, type, function]
  let resize = null;
  let asked = 0;
  const answers = new Map(); // ask id -> [resolve, reject] // a ResizeObserver, for elements whose size the app reads

  const fail = (message) => window.moodlensFail && window.moodlensFail(message);

  // What the app reads of an element at the time of an event: its form state and its size.
  const forms = () => Object.fromEntries([...document.querySelectorAll("input[id], select[id]")].map(
    (e) => [e.id, {value: e.value, checked: e.checked, files: e.type === "file" ? e.files : null}]));
  const size = (e) => {
    const r = e.getBoundingClientRect();
    return {clientWidth: e.clientWidth, clientHeight: e.clientHeight, devicePixelRatio: window.devicePixelRatio,
            rect: {left: r.left, top: r.top, width: r.width, height: r.height}};
  };
  // The elements whose size the app reads (op "measure"): sent again when they resize, and when
  // the device pixel ratio changes (zoom, another screen), which leaves their CSS size as it was.
  const measured = new Set();
  const sendSizes = (elements) => post({sizes: elements.map((e) => [e.moodlensRef, size(e)])});
  const watchRatio = () => matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`).addEventListener(
    "change", () => { sendSizes([...measured]); watchRatio(); }, {once: true});

  const ops = {
    set(e, name, value) { e[name] = value; },
    attr(e, name, value) { e.setAttribute(name, value); },
    style(e, name, value) { e.style.setProperty(name, value); },
    data(e, key, value) { if (value == null) delete e.dataset[key]; else e.dataset[key] = value; },
    class(e, name, on) { e.classList.toggle(name, on); },
    append(e, child) { e.append(element(child)); },
    remove(e) { e.remove(); },
    clear(e) { e.replaceChildren(); },
    call(e, method, args) { const r = e[method](...args); if (r && r.catch) r.catch(() => {}); },
    // A picture the worker drew (an ImageBitmap): the canvas takes its size and shows it.
    bitmap(e, bitmap) {
      if (e.width !== bitmap.width) e.width = bitmap.width;
      if (e.height !== bitmap.height) e.height = bitmap.height;
      const ctx = e.getContext("2d");
      ctx.clearRect(0, 0, e.width, e.height);
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
    },
    // A file or blob shown or offered by the element (a <video>'s src, a link's href).
    blob(e, name, blob) {
      if (urls.has(e)) URL.revokeObjectURL(urls.get(e));
      const url = URL.createObjectURL(blob);
      urls.set(e, url);
      e[name] = url;
    },
    measure(e, ref) {
      if (!resize) {
        resize = new ResizeObserver((entries) => sendSizes(entries.map((entry) => entry.target)));
        watchRatio();
      }
      e.moodlensRef = ref;
      measured.add(e);
      resize.observe(e);
    },
    listen(e, type, id, prevent) {
      const listener = (event) => {
        if (prevent === true || (Array.isArray(prevent) && prevent.includes(event.key))) event.preventDefault();
        const files = event.dataTransfer ? event.dataTransfer.files : null;
        post({event: id, payload: {type: event.type, key: event.key, shiftKey: event.shiftKey,
                                   clientX: event.clientX, clientY: event.clientY, files,
                                   forms: forms(), size: size(event.currentTarget)}});
      };
      listeners.set(id, [e, type, listener]);
      e.addEventListener(type, listener);
    },
  };
  const global = {
    create(ref, tag) { refs.set(ref, document.createElement(tag)); },
    query(ref, parent, selector) { refs.set(ref, (parent == null ? document : element(parent)).querySelector(selector)); },
    forget(ref) { refs.delete(ref); },
    unlisten(id) {
      const found = listeners.get(id);
      if (found) found[0].removeEventListener(found[1], found[2]);
      listeners.delete(id);
    },
    mark(name) { performance.mark(name); },
    store(key, value) {
      try { if (value == null) localStorage.removeItem(key); else localStorage.setItem(key, value); } catch { /* refused */ }
    },
    address(href) { history.replaceState(history.state, "", href); },
    download(filename, blob) {
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = filename;
      link.hidden = true;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    },
    // window[name](...args) asks the app (the tools' hooks: moodlensAnalyse, moodlensVideoExport).
    expose(name) {
      window[name] = (...args) => new Promise((resolve, reject) => {
        const id = ++asked;
        answers.set(id, [resolve, reject]);
        post({ask: id, name, args});
      });
    },
    handOver() { camera.handedOver = true; document.body.classList.remove("early-camera"); },
    fatal(message) { fail(message); },
    cameraClose() { camera.close(); },
    failed() { // the app could not start: the camera off, and Start reloads the page to try again
      window.moodlensFailed = true;
      camera.close();
      pressed(false);
    },
  };
  function apply(list) {
    for (const [name, ref, ...args] of list) {
      try {
        if (name in global) global[name](ref, ...args);
        else ops[name](element(ref), ...args);
      } catch (error) {
        console.error("Moodlens: a page update failed", name, ref, args, error);
      }
    }
  }

  const pressed = (on) => { // the Start button and the page as the camera is on or off
    const button = document.getElementById("start");
    button.textContent = on ? "Stop camera" : "Start camera";
    button.setAttribute("aria-pressed", String(on));
    document.body.classList.toggle("early-camera", on);
  };

  // -- the camera ---------------------------------------------------------------------------
  const camera = {
    stream: null, // the open stream
    opening: null, // getUserMedia's promise while it is pending
    handedOver: false, // Start is the app's from then on
    presented: 0, // frames the video presented since it started (rVFC's count, or polled)
    latest: null, // [now, captureTime] of the newest frame
    waiter: null, // a frame request waiting for the next frame
    video: null,
    failure: null, // why the camera Start opened before the app was up was refused, for the app to explain
    async open(constraints, early = false) {
      this.close();
      const promise = navigator.mediaDevices.getUserMedia({audio: false, video: constraints});
      this.opening = promise;
      let stream;
      try {
        stream = await promise;
      } catch (error) {
        if (early && this.opening === promise) this.failure = error;
        throw error;
      } finally {
        if (this.opening === promise) this.opening = null;
      }
      return this.show(stream);
    },
    async show(stream) {
      this.stream = stream;
      const track = stream.getVideoTracks()[0];
      if (track) track.addEventListener("ended", () => { if (this.stream === stream) post({cameraEnded: true}); });
      this.video.srcObject = stream;
      this.follow();
      try {
        await this.video.play();
      } catch (error) {
        this.close();
        throw {name: error.name, message: error.message, play: true};
      }
      return {deviceId: track && track.getSettings().deviceId || null};
    },
    // The camera Start opened before the app was up, once it is open (null if none).
    async take() {
      if (this.opening) await this.opening.catch(() => {});
      const failure = this.failure;
      this.failure = null;
      if (failure) throw failure; // explained by the app, as its own request's refusal would be
      return this.stream ? {deviceId: this.stream.getVideoTracks()[0].getSettings().deviceId || null} : null;
    },
    close() {
      this.failure = null;
      if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
      this.stream = null;
      this.opening = null;
      if (this.video) this.video.srcObject = null;
      this.latest = null;
      if (this.waiter) { const w = this.waiter; this.waiter = null; w(); } // a frame request ends: none will come
    },
    async devices() {
      const found = await navigator.mediaDevices.enumerateDevices();
      return found.filter((d) => d.kind === "videoinput").map((d) => ({deviceId: d.deviceId, label: d.label}));
    },
    chain: null, // the current follow() (a browser may drop a callback: the app then follows anew)
    follow() {
      const video = this.video;
      const chain = this.chain = {};
      const shown = (now, captured) => {
        this.presented += 1;
        this.latest = [now, captured];
        if (this.waiter) { const w = this.waiter; this.waiter = null; w(); }
      };
      if (video.requestVideoFrameCallback) {
        const onFrame = (now, meta) => {
          if (!this.stream || this.chain !== chain) return;
          video.requestVideoFrameCallback(onFrame);
          shown(now, meta.captureTime || now);
        };
        video.requestVideoFrameCallback(onFrame);
      } else { // requestVideoFrameCallback's stand-in: a frame counts when the video's time moved
        let last = null;
        const poll = (now) => {
          if (!this.stream || this.chain !== chain) return;
          requestAnimationFrame(poll);
          if (video.currentTime !== last) { last = video.currentTime; shown(now, now); }
        };
        requestAnimationFrame(poll);
      }
    },
    // The newest frame after frame number `after` (waiting for one if none is newer), as a
    // VideoFrame the worker takes over (an ImageBitmap where the browser has no VideoFrame).
    async frame(after) {
      const video = this.video;
      while (!(this.presented > after) || !this.latest) {
        if (!this.stream) return null;
        await new Promise((resolve) => { this.waiter = resolve; });
      }
      if (!this.stream || !video.videoWidth) return null;
      const [now, captured] = this.latest;
      const picture = typeof VideoFrame === "function" ? new VideoFrame(video) : await createImageBitmap(video);
      const heap = performance.memory ? performance.memory.usedJSHeapSize : null; // Chrome only: the page's heap
      return {value: {picture, now, captured, presented: this.presented, width: video.videoWidth,
                      height: video.videoHeight, heap}, transfer: [picture]};
    },
  };
  const calls = {
    "camera.open": (constraints) => camera.open(constraints),
    "camera.take": () => camera.take(),
    "camera.started": () => Boolean(camera.stream || camera.opening),
    "camera.early": (constraints) => (camera.stream || camera.opening ? null : camera.open(constraints, true)),
    "camera.close": () => camera.close(),
    "camera.devices": () => camera.devices(),
    "camera.frame": (after) => camera.frame(after),
    "camera.play": () => camera.video.play(),
    "camera.follow": () => { if (camera.stream) camera.follow(); },
    "camera.pause": () => camera.video.pause(),
  };
  async function answer({call, name, args}) {
    try {
      const result = await calls[name](...args);
      if (result && result.transfer) post({reply: call, value: result.value}, result.transfer);
      else post({reply: call, value: result === undefined ? null : result});
    } catch (error) {
      post({reply: call, error: {name: (error && error.name) || "Error", message: String((error && error.message) || error),
                                 play: Boolean(error && error.play)}});
    }
  }

  const kept = []; // the worker's compiled WebAssembly modules, for the next visit (worker.js)
  const keep = ({keep: module, url}) => {
    kept.push(module);
    // The service worker holds Pyodide's module across reloads (sw.js): asked now that this
    // page's copy exists, its compile finds that copy instead of compiling beside the worker.
    const controller = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (controller) controller.postMessage({hold: url});
  };
  worker.onmessage = ({data}) => {
    if (data.keep) keep(data);
    else if (data.ops) whenParsed(() => apply(data.ops));
    else if (data.call !== undefined) answer(data);
    else if (data.fatal) whenParsed(() => fail(data.fatal));
    else if (data.answer !== undefined) {
      const [resolve, reject] = answers.get(data.answer);
      answers.delete(data.answer);
      if (data.error !== undefined) reject(new Error(data.error)); else resolve(data.value);
    }
  };
  worker.onerror = (event) => {
    event.preventDefault();
    whenParsed(() => fail(`Moodlens could not start: ${event.message || "worker.js could not be loaded"}. ` +
      "Reload to try again; if it keeps happening, the site's files are damaged: tell whoever hosts this page."));
  };

  // -- once the page is parsed ----------------------------------------------------------------
  let parsed = false;
  const pending = [];
  const whenParsed = (then) => (parsed ? then() : pending.push(then));
  const ready = () => {
    parsed = true;
    camera.video = document.getElementById("video");
    const stored = {};
    try {
      for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i);
        if (key.startsWith("moodlens")) stored[key] = localStorage.getItem(key);
      }
    } catch { /* storage refused: nothing remembered */ }
    const elements = Object.fromEntries([...document.querySelectorAll("[id]")].map((e) => [e.id, {
      // The class attribute, not className: an SVG element's className is an object no message carries.
      tag: e.tagName.toLowerCase(), hidden: e.hidden, disabled: Boolean(e.disabled),
      className: e.getAttribute("class") || "",
      value: e.value === undefined ? null : e.value, checked: Boolean(e.checked), state: e.dataset.state || null}]));
    post({init: {
      search: location.search, href: location.href, origin: location.origin, timeOrigin: performance.timeOrigin,
      secure: window.isSecureContext, camera: Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
      state: document.body.dataset.state, hidden: document.hidden, devicePixelRatio: window.devicePixelRatio,
      userAgent: navigator.userAgent, stored, elements, jspi: Boolean(window.moodlensJspi),
      faceDetector: "FaceDetector" in window, performanceMemory: Boolean(performance.memory), videoFrameCallback: "requestVideoFrameCallback" in HTMLVideoElement.prototype,
      early: Boolean(camera.stream || camera.opening),
    }});
    document.addEventListener("visibilitychange", () => post({hidden: document.hidden}));
    early();
    pending.splice(0).forEach((then) => then());
  };
  // In a task of its own after the end of parsing, whose task already holds the browser's own
  // work on the parsed page (a forced style and layout; at 4x CPU throttling 70-120 ms with this
  // handler in it, docs/performance.md "The first frames").
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => setTimeout(ready));
  else ready();

  // Start before the app is up: the camera opens now, so the person sees themselves (and answers
  // the permission prompt) while Python boots; the app analyses it once it is up. With
  // ?autostart=1 the app asks for the camera itself, as soon as it has read the URL.
  function early() {
    const button = document.getElementById("start");
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return; // the app says why
    button.disabled = false;
    performance.mark("moodlens:start-enabled");
    button.addEventListener("click", () => {
      if (camera.handedOver) return;
      if (window.moodlensFailed) { // a fresh try, as the message asks: the page again, with the camera on
        const again = new URL(location.href);
        again.searchParams.set("autostart", "1");
        return location.assign(again.href);
      }
      if (camera.stream || camera.opening) { camera.close(); pressed(false); return; }
      pressed(true);
      camera.open({width: {ideal: 640}, height: {ideal: 480}, facingMode: "user"}, true)
        .catch(() => { if (!camera.handedOver) pressed(false); });
    });
    window.moodlensCamera = camera; // boot.js lets it go when the app cannot start
  }
})();
