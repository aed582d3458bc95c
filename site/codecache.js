// A first visit's last step, in a worker of its own that boot.js starts once the offline copy is
// in place: the app worker's module scripts (Pyodide's runtime, TF.js; build.py fills in MODULES,
// in worker.js's order) run once from that copy. Chromium keeps a script's compiled code the
// first time it runs from a service worker's cache, so the next visit's worker starts without
// compiling them: without this run it compiled them again on the second visit too (about 0.1 s
// of its start without throttling; docs/performance.md). Elsewhere it costs one compile, once.
const MODULES = {{modules}};
for (const path of MODULES) {
  try {
    await import(`./${path}`);
  } catch {
    // The app's own start names a missing or damaged file; nothing to add here.
  }
}
postMessage("compiled");
