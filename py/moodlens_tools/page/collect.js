// Benchmark only (served by moodlens_tools.engines.TestSite, never shipped): keeps every
// #results update with its time, so no inference is missed between the driver's polls.
// Read as window.__bench ([performance.now(), results] pairs).
window.__bench = [];
new MutationObserver(() => {
  const el = document.getElementById("results");
  try { const r = JSON.parse(el.textContent); if (r.frame) window.__bench.push([performance.now(), r]); } catch (e) {}
}).observe(document, { subtree: true, childList: true, characterData: true });

// `#click=<ms>` (the benchmark's click-to-video sweep): press Start that many ms after it is
// enabled, whatever Python is doing then, and time the person's own video on screen (the
// first frame the video element presents) from the click. Read as window.__click.
const clickAfter = /^#click=(\d+)$/.exec(location.hash);
if (clickAfter) {
  const press = () => setTimeout(() => {
    const video = document.getElementById("video");
    const at = performance.now();
    window.__click = {delay_ms: Number(clickAfter[1]), at_ms: Math.round(at),
                      python_up: document.querySelector('[data-stage="python"].done') !== null};
    const seen = () => { window.__click.video_ms = Math.round(performance.now() - at); };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(seen);
    else video.addEventListener("playing", seen, {once: true});
    document.getElementById("start").click();
  }, Number(clickAfter[1]));
  const waitEnabled = setInterval(() => {
    const button = document.getElementById("start");
    if (button && !button.disabled) { clearInterval(waitEnabled); press(); }
  }, 5);
}
