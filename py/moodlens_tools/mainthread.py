"""Main-thread figures from what ``page/mainthread.js`` recorded in a page (CPython only, never
shipped; the benchmark's).

For a window of the page's clock (the boot: from the first paint to the first emotion, see
``boot_start``; what follows the first emotion until the steady state; or a stretch of steady
running):

- ``long_tasks``, ``longest_task_ms``, ``blocked_share``: tasks over 50 ms, the longest (None:
  none over 50 ms), and the share of the window spent inside them. Where the engine has the Long Tasks API (Chromium) they
  are its entries (``tasks_from: "Long Tasks API"``; ``tasks``: each one's start, from the
  window's, and duration, ms, to tell which part of a start they fall in); elsewhere (Firefox, WebKit) they come from
  the heartbeat (``tasks_from: "heartbeat"``): a dedicated worker posts the page a message every
  10 ms, and a stretch in which those messages waited (each from when it was sent to when the page
  ran it, overlapping stretches merged) is one long task or several back to back with no message
  run between them; its length is a lower bound, short by at most the heartbeat's period.
- ``frame_interval_p95_ms``: the 95th percentile of the intervals between consecutive
  requestAnimationFrame callbacks (16.7 ms when the page renders every frame at 60 Hz).
- ``input_delay_p95_ms``: the 95th percentile of real input events' delay, where the benchmark sent
  some (Chromium: a click through CDP every 100 ms, at a steady pace whatever the page does, each
  at its own point of the page's bare top right corner; the delay runs from when the benchmark
  sent it to when the page's first listener ran, on the shared wall clock;
  ``input_from: "CDP clicks"``); elsewhere the heartbeat messages' delay, a proxy for it: how long
  anything arriving from outside the page's thread waited (``input_from: "heartbeat"``). Both
  sample time evenly, so the p95 is what a click at a random moment waits at worst 1 time in 20.

``heartbeat`` holds the heartbeat's own figures in every engine (also in Chromium, beside the
Long Tasks API's, to compare engines by one method).
"""

from __future__ import annotations

LONG_MS = 50.0  # a long task, as the Long Tasks API defines it

# Read in the page: what the probe recorded within [t0, t1] (its clock, ms), as JSON.
READ = """const [t0, t1] = arguments; const m = window.__main;
  if (!m) return null;
  const r = (x) => Math.round(x * 10) / 10;
  return JSON.stringify({
    frames: m.frames.filter((t) => t >= t0 && t <= t1).map(r),
    longtasks: m.longtasks && m.longtasks.filter(([s, d]) => s <= t1 && s + d >= t0).map(([s, d]) => [r(s), r(d)]),
    beats: m.beats.filter(([s, e]) => e >= t0 && s <= t1).map(([s, e]) => [r(s), r(e)]),
    inputs: m.inputs.filter(([, , h]) => h >= t0 && h <= t1).map(([k, ts, h, x, y]) => [k, r(ts), r(h), x, y]),
    heartbeat: m.heartbeat, heartbeat_ms: m.heartbeat_ms, time_origin: performance.timeOrigin,
    first_frame: m.frames.length ? r(m.frames[0]) : null,
    paint: performance.getEntriesByType('paint').map((e) => [e.name, r(e.startTime)]),
  });"""


def boot_start(data: dict) -> tuple[float | None, str | None]:
    """Where the boot's window starts, and what that moment is: the page's first paint (the paint
    timing entry: in Chromium the moment the frame was presented, after the task that made it
    ended), else its first contentful paint (an engine without ``first-paint``), else its first
    animation frame (an engine without paint timing). From then on the person sees the page and
    a long task freezes what they see; the tasks that made the first paint happened while the
    screen still showed nothing of it, and count towards the time to the first paint instead.
    A task that ends after this moment counts whole."""
    paint = dict(data.get("paint") or ())
    for name in ("first-paint", "first-contentful-paint"):
        if paint.get(name) is not None:
            return paint[name], name
    return data.get("first_frame"), "first animation frame" if data.get("first_frame") is not None else None


def p95(values: list[float]) -> float | None:
    """The 95th percentile the benchmark uses everywhere (the value at rank 0.95 × (n − 1))."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[int(0.95 * (len(ordered) - 1))], 1)


def merged_spans(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping or touching [start, end] intervals merged, in order."""
    out: list[list[float]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(a, b) for a, b in out]


def heartbeat_figures(beats: list, t0: float, t1: float) -> dict:
    """Long stretches and message delays from the heartbeat's [sent, received] pairs."""
    window = t1 - t0
    spans = [(max(a, t0), min(b, t1)) for a, b in merged_spans([(s, e) for s, e in beats])]
    long = [b - a for a, b in spans if b - a > LONG_MS]
    delays = [e - s for s, e in beats if t0 <= e <= t1]
    return {
        "messages": len(delays),
        "long_tasks": len(long),
        "longest_task_ms": round(max(long), 1) if long else None,
        "longest_stretch_ms": round(max((b - a for a, b in spans), default=0.0), 1),
        "blocked_share": round(sum(long) / window, 3) if window > 0 else None,
        "delay_p95_ms": p95(delays),
        "delay_max_ms": round(max(delays), 1) if delays else None,
    }


def click_delays(inputs: list, time_origin: float, sent: dict) -> list[float]:
    """Each click's delay: from when it was sent (``sent``: its point (x, y) -> the wall-clock
    ms it was sent at, every time) to its pointerdown listener (the page's clock + its
    ``time_origin``), matched by point: the last click sent at that point before the listener ran."""
    out = []
    for kind, _, handled, x, y in inputs:
        if kind != "pointerdown":
            continue
        at = time_origin + handled
        times = [t for t in sent.get((round(x), round(y)), ()) if t <= at + 2.0]  # 2 ms: clocks' rounding
        if times:
            out.append(max(0.0, at - max(times)))
    return out


def figures(data: dict, t0: float, t1: float, sent: dict | None = None) -> dict:
    """The main-thread figures for [t0, t1] from ``READ``'s answer (see the module's doc);
    ``sent``: the clicks the benchmark sent (``click_delays``). Everything is taken within the
    window here, whatever ``READ`` was asked for: a task that overlaps it counts whole."""
    window = t1 - t0
    frames = [t for t in data["frames"] if t0 <= t <= t1]
    intervals = [b - a for a, b in zip(frames, frames[1:])]
    beat = heartbeat_figures(data["beats"], t0, t1) if data["beats"] else None
    out = {"window_ms": round(window, 1), "frames": len(frames), "frame_interval_p95_ms": p95(intervals)}
    if data.get("longtasks") is not None:
        tasks = [(s, d) for s, d in data["longtasks"] if d > LONG_MS and s <= t1 and s + d >= t0]
        clipped = sum(max(0.0, min(s + d, t1) - max(s, t0)) for s, d in tasks)
        out.update(tasks_from="Long Tasks API", long_tasks=len(tasks),
                   longest_task_ms=round(max(d for _, d in tasks), 1) if tasks else None,
                   blocked_share=round(clipped / window, 3) if window > 0 else None,
                   tasks=[[round(s - t0, 1), round(d, 1)] for s, d in tasks])
    elif beat:
        out.update(tasks_from="heartbeat", long_tasks=beat["long_tasks"], longest_task_ms=beat["longest_task_ms"],
                   blocked_share=beat["blocked_share"])
    else:
        out.update(tasks_from=None, long_tasks=None, longest_task_ms=None, blocked_share=None)
    within = [i for i in data["inputs"] if t0 <= i[2] <= t1]
    inputs = click_delays(within, data["time_origin"], sent) if sent else []
    if inputs:
        out.update(input_from="CDP clicks", inputs=len(inputs), input_delay_p95_ms=p95(inputs))
    else:
        out.update(input_from="heartbeat" if beat else None, inputs=beat["messages"] if beat else 0,
                   input_delay_p95_ms=beat["delay_p95_ms"] if beat else None)
    out["heartbeat"] = beat if beat else data.get("heartbeat")
    return out
