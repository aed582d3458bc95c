"""Windows of time measured by the page's own counters, for "nothing happens" checks.

A check that something does not happen (no inference in a hidden tab, none after Stop) needs a
window to look over. A wall-clock sleep is a guess that a busy machine turns into a window too
short to mean anything; these count what the browser itself presents instead, so on a slow
machine the window simply lasts longer.

    animation_frames(page, 30)   # returns once the page has painted 30 animation frames
    video_frames(page, 30)       # ... once the <video> has presented 30 new frames
"""

from __future__ import annotations

ANIMATION_FRAMES = """(n) => new Promise((resolve) => {
  let left = n;
  const tick = () => (--left <= 0 ? resolve() : requestAnimationFrame(tick));
  requestAnimationFrame(tick);
})"""

# requestVideoFrameCallback's metadata.presentedFrames is the browser's own count of frames shown.
VIDEO_FRAMES = """(n) => new Promise((resolve) => {
  const video = document.getElementById('video');
  let first = null;
  const tick = (now, meta) => {
    if (first === null) first = meta.presentedFrames;
    if (meta.presentedFrames - first >= n) resolve(); else video.requestVideoFrameCallback(tick);
  };
  video.requestVideoFrameCallback(tick);
})"""


def animation_frames(page, n: int) -> None:
    page.evaluate(ANIMATION_FRAMES, n)


def video_frames(page, n: int) -> None:
    page.evaluate(VIDEO_FRAMES, n)


# Counts, in the page, the results with faces and without since it was installed, and when.
WATCH_RESULTS = """() => {
  const seen = window.__seen = {faces: 0, empty: 0, since: performance.now(), last: null};
  new MutationObserver(() => {
    try {
      const r = JSON.parse(document.getElementById('results').textContent);
      if (r.frame === seen.last || r.faces === undefined) return;
      seen.last = r.frame;
      if (r.faces.length) seen.faces += 1; else seen.empty += 1;
    } catch (e) {}
  }).observe(document.getElementById('results'), {childList: true, characterData: true, subtree: true});
}"""


def session(page, seconds: float) -> dict:
    """Watch the results for ``seconds`` of the page's clock and until faces have both come
    and gone; returns how many results had faces and how many had none."""
    page.evaluate(WATCH_RESULTS)
    page.wait_for_function(
        "s => performance.now() - window.__seen.since >= s * 1000 && window.__seen.faces > 0"
        " && window.__seen.empty > 0", arg=seconds, timeout=(seconds + 120) * 1000, polling=250)
    return page.evaluate("({faces: window.__seen.faces, empty: window.__seen.empty})")
