// Moodlens's service worker: after one visit the app starts and runs without a network.
// build.py fills in VERSION (a hash of every file's content, so a new deploy is a new worker),
// FILES (every file of the site), PRECACHE (what a start needs), MODULES (the scripts the app's
// worker imports as modules, among PRECACHE) and HELD (Pyodide's WebAssembly, among PRECACHE);
// the other files (optional models, the TFLite runtime) are cached the first time they are used.
// Only the site's own files are cached: nothing a person chooses or the camera sees.
const VERSION = {{version}};
const FILES = new Set({{files}});
const PRECACHE = {{precache}};
const MODULES = {{modules}};
const HELD = {{held}};
const CACHE = `moodlens-${VERSION}`;
const SCOPE = new URL("./", self.location).pathname;

// Pyodide's WebAssembly, compiled, held while this worker runs, so that a reload finds its
// machine code ready. V8 (Chromium's engine) shares a compiled module among the threads of a
// renderer process for as long as anything holds it, and this worker runs in the page's process
// and outlives a reload; the copy the page holds (worker.js) dies with the old page, often
// before the new page's worker looks for it. Without it a capped reload compiled the module
// again and spent 3.2-3.4 s in V8's optimizing compiler (docs/performance.md, "The warm start").
// It compiles once the app's worker has its module, so it finds that one and adds no second
// copy: as it activates on a first visit, and when a page says its worker has compiled the file
// (page.js). Compiling as the file was fetched instead ran beside the worker's compile, and the
// worker's waited 0.5-0.7 s for this thread (capped). Only in Chromium's engines
// (navigator.userAgentData), where the reuse was measured; Firefox compiles a whole module on
// each compile, so there it would be a second one.
const HOLDS = typeof WebAssembly === "object" && "compileStreaming" in WebAssembly && "userAgentData" in navigator;
let held = null; // the compile's promise, once started: one a worker's life, failed or not
const hold = () => {
  if (!HOLDS || held) return;
  // A missing or damaged file is for the app's start to report, not this.
  held = caches.open(CACHE).then((cache) => cache.match(HELD)).then((r) => r && WebAssembly.compileStreaming(r))
    .catch(() => null);
};

// The worker's module scripts are cached as this worker activates, not at install: Chromium
// compiles a script cached during install at once and keeps its code, but as a classic script,
// which the app worker's module import rejects (V8 tells the two apart); it then kept the
// module's code only from its second run from the cache, so the fourth visit was the first not
// to compile them. Cached after install, a script's first run from the cache keeps its code, and
// codecache.js makes that run on the first visit (docs/performance.md).
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE.filter((path) => !MODULES.includes(path)))));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    try {
      await (await caches.open(CACHE)).addAll(MODULES);
    } catch (error) {
      // Offline as it activates (an update taken later): each is cached when next fetched.
      console.warn("Moodlens's offline copy lacks the worker's scripts for now.", error);
    }
    for (const key of await caches.keys()) {
      if (key.startsWith("moodlens-") && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
    hold();
  })());
});

// The page asks for the new version when the person accepts the update, and for Pyodide's
// module to be held once its worker has compiled it (above).
self.addEventListener("message", (event) => {
  if (event.data === "update") self.skipWaiting();
  else if (event.data && typeof event.data.hold === "string" &&
           new URL(event.data.hold, self.location).pathname === SCOPE + HELD) hold();
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith(SCOPE)) return;
  const path = url.pathname.slice(SCOPE.length) || "index.html";
  if (!FILES.has(path)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(path);
    if (hit) return hit;
    const response = await fetch(event.request);
    if (response.ok && response.status === 200) await cache.put(path, response.clone());
    return response;
  })());
});
