// Moodlens's service worker: after one visit the app starts and runs without a network.
// build.py fills in VERSION (a hash of every file's content, so a new deploy is a new worker),
// FILES (every file of the site) and PRECACHE (what a start needs, fetched at install); the
// other files (optional models, the TFLite runtime) are cached the first time they are used.
// Only the site's own files are cached: nothing a person chooses or the camera sees.
const VERSION = "{{version}}";
const FILES = new Set({{files}});
const PRECACHE = {{precache}};
const CACHE = `moodlens-${VERSION}`;
const SCOPE = new URL("./", self.location).pathname;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("moodlens-") && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

// The page asks for the new version when the person accepts the update.
self.addEventListener("message", (event) => {
  if (event.data === "update") self.skipWaiting();
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
