// Benchmark only (served by moodlens_tools.engines.TestSite, never shipped): watches the page's
// main thread from the start of the document, in every engine and for every system alike
// (injected first into <head>, before the page's own scripts). It observes; it does no work
// of its own beyond a few tiny tasks a second. Read as window.__main; the figures are computed
// by moodlens_tools/mainthread.py.
//   frames      requestAnimationFrame timestamps (ms, page clock): frame intervals, and the first
//               one is where the benchmark's "boot" window starts in an engine without paint
//               timing (elsewhere the first paint: mainthread.boot_start)
//   longtasks   [startTime, duration] of every Long Tasks API entry (tasks over 50 ms), where the
//               engine has the API (Chromium); null where it has not (Firefox, WebKit)
//   beats       [sent, received] (ms, page clock) of a message a dedicated worker posts to the page
//               every HEARTBEAT_MS from its own thread: `received - sent` is how long a task arriving
//               from outside (an input event, a network response) waited for the main thread, in
//               every engine; a run of late messages spans one long task or several back to back
//   inputs      [type, event.timeStamp, performance.now() in the first listener, clientX, clientY]:
//               real input events (the benchmark sends clicks through CDP in Chromium, each at its
//               own point, and times them from when it sent them)
// Only the page's main thread is watched: work the page moves into a worker does not show.
(() => {
  const HEARTBEAT_MS = 10;
  const main = (window.__main = {
    frames: [], longtasks: null, beats: [], inputs: [], heartbeat: "starting", heartbeat_ms: HEARTBEAT_MS,
  });

  const frame = (t) => { main.frames.push(t); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);

  if ((window.PerformanceObserver && PerformanceObserver.supportedEntryTypes || []).includes("longtask")) {
    main.longtasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) main.longtasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  }

  // The worker stamps each message with the shared clock (timeOrigin + now) as it sends it; the
  // page converts it to its own clock. A worker's timer may fire late on a busy machine: that
  // only thins the samples, it does not lengthen the delays measured.
  try {
    const source = `setInterval(() => postMessage(performance.timeOrigin + performance.now()), ${HEARTBEAT_MS});`;
    const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
    worker.onmessage = (e) => {
      const now = performance.now();
      main.beats.push([Math.min(e.data - performance.timeOrigin, now), now]);
    };
    worker.onerror = (e) => { main.heartbeat = `error: ${e.message || e}`; };
    main.worker = worker;  // kept referenced
    main.heartbeat = "running";
  } catch (e) {
    main.heartbeat = `unavailable: ${e}`;
  }

  for (const type of ["pointerdown", "keydown"]) {
    addEventListener(type, (e) => main.inputs.push([type, e.timeStamp, performance.now(), e.clientX, e.clientY]),
                     { capture: true });
  }
})();
