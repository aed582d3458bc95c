"""Side-by-side benchmark: Moodlens against @vladmandic/human 3.3.6, same camera, same backend.

    python3 build.py bench [--browser chromium|firefox|webkit] [--seconds 15] [--backend auto|wasm|webgl|cpu]
                           [--fps 60] [--video "one face"] [--system moodlens] [--compare-backends]
                           [--throttle 4] [--cpu-cap 0.5] [--calibrate]

For each system and each camera video (one face; a group of four), in one engine: cold start
(empty cache) and warm start (reload) to the first emotion on screen with its breakdown (the
median of ``--starts``, 3 by default, each cold one in a fresh engine, the systems in turns),
steady-state results per second, per-stage p50/p95, end-to-end latency (camera capture to
results on screen), bytes per file a cold start downloads to its first emotion (the page's,
its workers' and its service worker's requests; as served, gzip, brotli), peak browser memory (PSS, all processes)
and wasm memory, and the page's main thread from its first paint to the first emotion (the
boot), from the first emotion to the steady state (the run's own cold start: the one-off work
after it) and while running: long tasks, the longest, the share of time blocked, the frame interval
p95 and the input delay p95 (``moodlens_tools.mainthread``; a third video, two faces with
``?landmarks=1``, measures Moodlens alone while running). The camera: Chromium's file-backed fake
camera; in Firefox and WebKit (whose fake cameras show a pattern) ``canvas.captureStream()`` of
the same picture, for both systems.
A slow device: ``--throttle N`` (Chromium: CDP CPU throttling, the page's main thread only, for
main-thread figures) and ``--cpu-cap F`` (any engine: the whole browser in a cgroup CPU quota of
F CPUs, every process and thread alike, for first emotion and results per second); every number
printed and written is labelled with the device it was measured on. ``--calibrate`` times a CPU
loop on the page's main thread and in a worker on that device.
``--backend auto`` (the default) lets Moodlens choose and gives human the backend Moodlens
chose; ``--compare-backends`` runs Moodlens alone with its own choice and with each backend
forced, to check the choice against the fastest. Writes tests/.artifacts/bench/results.json
and chart.png and prints a table. Not part of the test run: numbers are measurements, not pass/fail.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import platform
import re
import shutil
import signal
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path

import brotli
from PIL import Image, ImageDraw

from moodlens import config
from moodlens_build.paths import DIST, NODE, ROOT
from moodlens_tools import cpucap, engines, mainthread, procs
from tests.e2e import media  # run as `python -m tests.bench.benchmark` from the project (build.py does)

OUT = ROOT / "tests" / ".artifacts" / "bench"
HUMAN = NODE / "@vladmandic" / "human"
HUMAN_MODELS = ("blazeface.json", "blazeface.bin", "emotion.json", "emotion.bin")
VIDEOS = {"one face": (media.one_face_video, "sample1.jpg", media.ONE_FACE_CROP),
          "group of 4": (media.group_video, "sample6.jpg", media.GROUP_CROP),
          "two faces + landmarks": (media.two_faces_video, "sample6.jpg", media.TWO_FACES_CROP)}
# Moodlens's heaviest live mode, measured while running: Moodlens alone (the peer is set up for
# detection and emotion only), one cold and the warm starts, no click sweep.
VIDEO_QUERY = {"two faces + landmarks": "landmarks=1"}
MOODLENS_ONLY = {"two faces + landmarks"}


class Device:
    """How the benchmark makes this machine a slow device (by default it does not).

    ``throttle``: Chromium's CPU throttling (CDP ``Emulation.setCPUThrottlingRate``), set on every
    page the benchmark opens before it navigates; it slows the page's main thread only (a loop in
    a worker runs at full speed), so it is for main-thread figures. ``cap``: a
    ``cpucap.CpuCap`` every browser the benchmark launches runs in (every process and thread
    alike), for first emotion and results per second."""

    def __init__(self, throttle: float | None = None, cap: cpucap.CpuCap | None = None):
        self.throttle, self.cap = throttle, cap
        self.clickers: list[Clicker] = []

    def stop_clicks(self) -> None:
        """Stop every page's clicks (before its engine closes)."""
        while self.clickers:
            self.clickers.pop().stop()

    @property
    def label(self) -> str:
        parts = ([f"throttle {self.throttle:g}× (main thread only)"] if self.throttle else []) + (
            [self.cap.label] if self.cap else [])
        return " + ".join(parts) or "none"

    def cpu_ns(self) -> int | None:
        """CPU time the capped browsers have used so far (every process and thread; the
        cgroup's accounting), or None without ``--cpu-cap``."""
        return self.cap.usage_ns() if self.cap else None

    def cpu_reading(self) -> tuple | None:
        """For ``cpu_since``: now, the CPU used so far and by thread (with ``--cpu-cap``)."""
        return (time.monotonic(), self.cap.usage_ns(), self.cap.threads()) if self.cap else None

    def cpu_since(self, reading: tuple | None) -> dict | None:
        """CPU the browser used per second since ``reading``: in all (``cpus``), and by thread
        name for the threads that used most (``VizCompositorThread`` is the display compositor,
        ``DedicatedWorker thread`` Moodlens's worker; each process's main thread is named after
        the browser binary)."""
        if reading is None:
            return None
        then, usage, threads = reading
        seconds = time.monotonic() - then
        by_thread = self.cap.threads() - threads
        return {"seconds": round(seconds, 1), "cpus": round((self.cap.usage_ns() - usage) / 1e9 / seconds, 3),
                "by_thread": {name: round(cpu / seconds, 3) for name, cpu in by_thread.most_common(8)}}

    def launch(self, browser: str, face_video: Path | None = None) -> engines.Engine:
        return engines.launch(browser, face_video=face_video, wrap=self.cap.wrap if self.cap else None)

    def open(self, engine: engines.Engine, url: str, camera: str = "face") -> engines.Page:
        """``url`` in a new page. Chromium: the page gets a CDP session (``page.cdp``), throttled
        before it navigates, and a ``Clicker`` (``page.clicker``; stop it when done), and is
        handed back once the navigation commits (the caller measures the load)."""
        navigated = self.cpu_ns()
        if not isinstance(engine, engines.Chromium):
            page = engine.open(url, camera=camera)
            page.cpu_at_navigation = navigated
            return page
        if not hasattr(engine, "debugging_port"):  # the Clicker's own DevTools connection
            engine.debugging_port = engines._free_port()
        page = engine.new_page(camera, flags=(f"--remote-debugging-port={engine.debugging_port}",))
        page.cdp = page.context.new_cdp_session(page.page)
        self.throttle_page(page.cdp)
        page.clicker = Clicker(engine.debugging_port, page.cdp.send("Target.getTargetInfo")["targetInfo"]["targetId"])
        self.clickers.append(page.clicker)
        page.cpu_at_navigation = self.cpu_ns()
        page.page.goto(url, wait_until="commit")
        return page

    def throttle_page(self, cdp) -> None:
        if self.throttle:
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": self.throttle})


DEVICE = Device()  # main() sets it from --throttle and --cpu-cap

# All WebAssembly memory as the page reports it in #results.diagnostics: Pyodide's heap and
# TF.js's wasm heap for us (both in the app's worker), TF.js's heap for the peer.
WASM_HEAP = """
  try {
    const d = JSON.parse(document.getElementById('results').textContent).diagnostics;
    return (Number(d.wasm_heap_bytes) || 0) + (Number(d.tfjs_wasm_heap_bytes) || 0);
  } catch (e) { return 0; }"""

def browser_memory() -> int:
    """The browser's memory: the proportional set size (PSS: shared pages split between the
    processes sharing them) summed over every browser process under this one, from /proc. The
    same figure for every engine and both systems, whatever thread or process holds the heap
    (the main thread's JS heap alone misses a worker's); one engine runs at a time."""
    total = 0
    for pid in procs.browser_pids():
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1)) * 1024
    return total


def human_site(dest: Path) -> Path:
    """The peer's page, its library, models and TF.js wasm binaries, in one folder."""
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "models").mkdir(parents=True)
    for f in ("index.html", "human.js"):
        shutil.copy2(Path(__file__).parent / "human" / f, dest / f)
    shutil.copy2(HUMAN / "dist" / "human.esm.js", dest / "human.esm.js")
    for f in HUMAN_MODELS:
        shutil.copy2(HUMAN / "models" / f, dest / "models" / f)
    shutil.copytree(DIST / "vendor" / "tfjs", dest / "tfjs")
    return dest


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 2), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2)}


def marks(page) -> dict:
    return page.run("""return Object.fromEntries(performance.getEntriesByType('mark')
        .filter(m => m.name.startsWith('moodlens:')).map(m => [m.name.slice(9), Math.round(m.startTime)]))""")


FIRST_EMOTION = "performance.getEntriesByName('moodlens:first-emotion', 'mark').length > 0"
# A face linked to a person in #results (the descriptor model loads after the first emotion).
A_PERSON = (f"(() => {{ try {{ const r = JSON.parse({engines.RESULTS}); return Boolean({engines.PERSON_LINKED}); }}"
            " catch (e) { return false; } })()")


class Clicker:
    """Real clicks into a Chromium page at a steady pace, whatever the page is doing: a thread with
    its own DevTools connection to the page sends a press and a release (CDP
    ``Input.dispatchMouseEvent``) every CLICK_EVERY s without waiting for the answers, each click
    at its own point of the page's top right corner (bare background in both systems' pages at
    1280×800, so a click starts nothing), and keeps when it sent each. ``page/mainthread.js``
    records when the page's first pointerdown listener ran and where; ``mainthread.click_delays``
    pairs them. Sent through Playwright's own session instead, each click would wait for the
    previous one's answer, so it would land just after each long task instead of in it."""

    X, Y = range(1200, 1280), (1, 4, 7)  # 240 points: a point comes round again after 24 s

    def __init__(self, port: int, target: str):
        import websocket  # websocket-client, which Selenium brings

        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}/devtools/page/{target}", suppress_origin=True)
        self.sent: dict[tuple[int, int], list[float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        points = [(x, y) for y in self.Y for x in self.X]
        n, slot = 0, time.monotonic()
        while not self._stop.is_set():
            x, y = points[n // 2 % len(points)]
            self.sent.setdefault((x, y), []).append(time.time() * 1000)
            try:
                for kind in ("mousePressed", "mouseReleased"):
                    n += 1
                    self.ws.send(json.dumps({"id": n, "method": "Input.dispatchMouseEvent", "params": {
                        "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}}))
            except Exception:  # the browser went away
                return
            self.ws.settimeout(0.001)
            try:
                while True:  # the answers: read and dropped
                    self.ws.recv()
            except Exception:
                pass
            slot += CLICK_EVERY
            self._stop.wait(max(0.0, slot - time.monotonic()))

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(5)
            self.ws.close()


CLICK_EVERY = 0.1  # s


def wait_first_emotion(page, timeout: float = 120.0) -> dict:
    try:
        page.wait(FIRST_EMOTION, timeout, fail=engines.IN_ERROR)
    except AssertionError:
        if page.state() == "error":
            raise RuntimeError(page.run("return (document.getElementById('status') || "
                                        "document.getElementById('results')).textContent")) from None
        raise RuntimeError("no emotion on screen in time") from None
    return marks(page)


def wait_person(page, timeout: float = 60.0) -> float | None:
    """Ms from the first emotion until a face has its person (the descriptor model fetched, built
    and run once): a one-off cost of each start, kept out of the steady state measured after it."""
    return after_first_emotion(page, A_PERSON, timeout)


def after_first_emotion(page, condition: str, timeout: float) -> float | None:
    """Ms from the first emotion until ``condition`` held (None: not within ``timeout``)."""
    try:
        page.wait(condition, timeout)
    except AssertionError:
        return None
    return round(page.run("return performance.now() - "
                          "performance.getEntriesByName('moodlens:first-emotion', 'mark')[0].startTime"), 1)


# What a first visit does once its start is over, timed from its first emotion by the run's own
# cold start (the other cold starts stop at the first emotion).
ONE_OFFS = ("person_after_ms", "offline_after_ms")


def wait_offline(page, timeout: float = 60.0) -> float | None:
    """Ms from the first emotion until the offline copy is in place (``body[data-offline]``; the
    service worker registers once the start is over and downloads the copy as it installs): a
    one-off cost of a first visit, kept out of the steady state measured after it (codecache.js
    waits until the camera stops, which the benchmark's first visit never does). None where
    that did not happen (an insecure context, a browser without service workers) within
    ``timeout``."""
    return after_first_emotion(page, engines.OFFLINE, timeout)


def main_thread(page, t0: float | None, t1: float) -> dict | None:
    """``mainthread.figures`` for [t0, t1] of the page's clock (t0 None: the boot's window, from
    ``mainthread.boot_start``, with the longest task before it beside the figures)."""
    raw = page.run(mainthread.READ, 0 if t0 is None else t0, t1)
    if raw is None:
        return None
    data = json.loads(raw)
    start, since = (t0, None) if t0 is not None else mainthread.boot_start(data)
    if start is None:
        return None
    clicker = getattr(page, "clicker", None)
    out = mainthread.figures(data, start, t1, clicker.sent if clicker else None)
    if t0 is None:
        before = [d for s, d in data["longtasks"] or () if s + d < start]
        out.update(since=since, first_frame_ms=data["first_frame"], paint_ms=dict(data["paint"]),
                   longest_task_before_ms=max(before) if before else None)
    return out


_FIRST_EMOTION = "performance.getEntriesByName('moodlens:first-emotion', 'mark')[0].startTime"
FIRST_EMOTION_AT = f"return {_FIRST_EMOTION}"
# The same moment on the machine's clock (epoch ms), to compare with when the server sent a file.
FIRST_EMOTION_EPOCH_MS = f"return performance.timeOrigin + {_FIRST_EMOTION}"


def boot(page, timeout: float = 120.0) -> dict:
    """A visit measured to its first emotion: its marks, under ``cpu_s`` (with ``--cpu-cap``) the
    CPU seconds the whole browser used from the navigation until the first emotion was seen
    (read within one poll of the wait, so a little after it), and under ``main_thread`` the
    page's main thread from its first paint to the first emotion."""
    m = wait_first_emotion(page, timeout)
    since = getattr(page, "cpu_at_navigation", None)
    if since is not None:
        m["cpu_s"] = round((DEVICE.cpu_ns() - since) / 1e9, 2)
    first = page.run(FIRST_EMOTION_AT)
    return {**m, "main_thread": main_thread(page, None, first)}


def reload(page) -> None:
    """Reload; in Chromium return once the new document commits (the caller measures the load)."""
    page.cpu_at_navigation = DEVICE.cpu_ns()
    if isinstance(page, engines.ChromiumPage):
        page.page.reload(wait_until="commit")
    else:
        page.reload()


@functools.lru_cache(maxsize=None)
def compressed_sizes(path: Path) -> dict:
    """A file's bytes as served, gzip -9 and brotli (quality 11), once a run: brotli takes
    seconds on the runtime's 10 MB."""
    data = path.read_bytes()
    return {"bytes": len(data), "gzip": len(gzip.compress(data, 9)), "brotli": len(brotli.compress(data))}


def transfer(served: list[str], folder: Path) -> dict:
    """Bytes per asset as served and compressed, for the files the server sent (``served``:
    the paths of ``TestSite.served``, the page's, its workers' and its service worker's
    requests alike; the benchmark's own scripts under /__test__/ left out)."""
    assets = {}
    for served_path in dict.fromkeys(served):
        if served_path.startswith("/__test__/"):
            continue
        path = folder / (served_path.lstrip("/") or "index.html")
        if path.is_file():
            assets[path.relative_to(folder).as_posix()] = compressed_sizes(path)
    total = {k: sum(a[k] for a in assets.values()) for k in ("bytes", "gzip", "brotli")}
    return {"assets": assets, "total": total}


CLICK_DELAYS_MS = (0, 150, 300, 450, 600, 900)  # after Start is enabled: across Python's whole boot


def click_to_video(page, url: str, face: bool) -> dict:
    """Warm visits without autostart: Start is pressed 0-900 ms after it is enabled (collect.js's
    ``#click=``), so the click lands in every state of Python's boot; for each, the time from
    the click to the person's own video on screen (the first frame the video element presents)
    and, where the camera shows a face, to the first emotion. The worst click counts."""
    clicks = []
    for delay in CLICK_DELAYS_MS:
        page.goto(f"{url}#click={delay}")  # may change the fragment only: the reload is the visit measured
        page.reload()
        page.wait("window.__click && window.__click.video_ms !== undefined", 30)
        click = json.loads(page.run("return JSON.stringify(window.__click)"))
        if face:
            page.wait("performance.getEntriesByName('moodlens:first-emotion').length > 0", 60)
            click["first_emotion_ms"] = round(page.run(
                "return performance.getEntriesByName('moodlens:first-emotion')[0].startTime") - click["at_ms"])
        else:
            page.wait("document.body.dataset.state === 'running'", 60)  # the app took the camera over
        clicks.append(click)
    return {"worst_video_ms": max(c["video_ms"] for c in clicks),
            "median_video_ms": statistics.median(c["video_ms"] for c in clicks), "clicks": clicks}


def serve(browser: str, name: str, folder: Path, camera: dict, headers: dict | None = None) -> engines.TestSite:
    """The system's page with the benchmark's scripts first in its <head>, the same for both
    systems: the main-thread probe, the results collector, the engine's camera; Moodlens with
    its production headers unless ``headers`` are given."""
    scripts = ["__test__/mainthread.js", "__test__/collect.js"] + [
        s for s in engines.page_scripts(browser, "face", camera["photo"], camera["fps"]) if "record.js" not in s]
    return engines.TestSite(folder, scripts, extra=camera["folder"],
                            headers=headers if name == "moodlens" else {})


def median_start(starts: list[dict]) -> tuple[dict, dict | None]:
    """The start whose first emotion is the median one (its whole breakdown), with every start's
    first emotion beside it: one start on this shared machine swings by up to a second; and
    that start's main-thread figures."""
    ordered = sorted(starts, key=lambda m: m["first-emotion"])
    median = ordered[len(ordered) // 2]
    marks = {k: v for k, v in median.items() if k not in ("all", "main_thread")}
    return {**marks, "all": [m["first-emotion"] for m in starts]}, median.get("main_thread")


# How long one system's run may take before its browser is stopped (procs.Deadline), beyond twice
# its steady-state window: a capped run takes 2-3 minutes here.
RUN_LIMIT_S = 600
# The runs that stopped answering and were taken again (procs.once_more_if_stalled), for the report.
STALLS: list[str] = []


def cold_start(browser: str, name: str, query: str, folder: Path, camera: dict) -> dict:
    """One more cold start (a fresh engine, an empty profile): its marks and main thread."""
    return procs.once_more_if_stalled(RUN_LIMIT_S, f"a cold start of {name} in {browser}", STALLS,
                                      lambda: _cold_start(browser, name, query, folder, camera))


def _cold_start(browser: str, name: str, query: str, folder: Path, camera: dict) -> dict:
    engine = DEVICE.launch(browser, face_video=camera["y4m"])
    site = serve(browser, name, folder, camera)
    try:
        return boot(DEVICE.open(engine, f"{site.base}index.html{query}", camera="face"))
    finally:
        DEVICE.stop_clicks()
        engine.close()
        site.close()


def run_system(browser: str, name: str, query: str, folder: Path, camera: dict, seconds: float,
               warm_starts: int = 1, sweep: bool = True) -> dict:
    """One system on one video in a fresh engine (an empty profile: the first load is cold;
    the caller adds its other cold starts) and ``warm_starts`` reloads; ``sweep``: Moodlens's
    click-to-video sweep too."""
    return procs.once_more_if_stalled(
        RUN_LIMIT_S + 2 * seconds, f"{name} in {browser}", STALLS,
        lambda: _run_system(browser, name, query, folder, camera, seconds, warm_starts, sweep))


def _run_system(browser: str, name: str, query: str, folder: Path, camera: dict, seconds: float,
                warm_starts: int, sweep: bool) -> dict:
    engine = DEVICE.launch(browser, face_video=camera["y4m"])
    site = serve(browser, name, folder, camera)
    try:
        page = DEVICE.open(engine, f"{site.base}index.html{query}", camera="face")
        cold = boot(page)
        # What the server sent to the first emotion (compressed once the run is measured): by the
        # time the benchmark has read the boot, a capped page has asked for what comes after it
        # (the face-descriptor model).
        first_ms = page.run(FIRST_EMOTION_EPOCH_MS)
        served_cold = [path for path, at in list(site.served) if at * 1000 <= first_ms]
        if name == "moodlens" and "people=0" not in query:
            cold["person_after_ms"] = wait_person(page)
        if name == "moodlens":
            cold["offline_after_ms"] = wait_offline(page)

        # Steady state: every result of `seconds` after the first, peak memory sampled meanwhile;
        # the main thread meanwhile.
        t0 = page.run("window.__bench = []; return performance.now()")
        # What the start left to do after the first emotion (the person, the offline copy, the
        # page's first results): not the boot, not yet the steady state.
        settle = main_thread(page, page.run(FIRST_EMOTION_AT), t0)
        cpu_before = DEVICE.cpu_reading()
        peak_memory, peak_wasm = 0, 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            peak_memory = max(peak_memory, browser_memory())
            peak_wasm = max(peak_wasm, page.run(WASM_HEAP))
            time.sleep(0.5)
        samples, t1 = page.run("return [window.__bench, performance.now()]")
        cpu = DEVICE.cpu_since(cpu_before)
        running = main_thread(page, t0, t1)
        if len(samples) < 2:
            raise RuntimeError(f"{name} in {browser}: {len(samples)} results in {seconds} s")
        first_t, first = samples[0]
        last_t, last = samples[-1]
        rate = (last["frame"] - first["frame"]) / ((last_t - first_t) / 1000.0)
        stages: dict[str, list[float]] = {}
        for _, r in samples:
            for stage, ms in r.get("stages_ms", {}).items():
                stages.setdefault(stage, []).append(ms)
            stages.setdefault("total", []).append(r["time_ms"])
            stages.setdefault("latency", []).append(r["latency_ms"])
        faces = statistics.mean(len(r["faces"]) for _, r in samples)

        warms = []
        for _ in range(warm_starts):
            reload(page)
            warms.append(boot(page))
        warm, warm_main = median_start(warms)
        DEVICE.stop_clicks()  # the sweep below is measured as before, without the benchmark's clicks
        clicks = None
        if sweep and name == "moodlens" and browser == "chromium":  # its fake camera is a device, showing the face
            clicks = click_to_video(page, f"{site.base}index.html", face=True)
        elif sweep and name == "moodlens":
            # The engine's own fake camera (a test pattern, through the engine's capture path), not
            # the page script standing in for a camera with a face: that script draws its frames
            # on the main thread the boot keeps busy, so it would time the script, not the page.
            own = engines.TestSite(folder, ["__test__/collect.js"])
            try:
                clicks = click_to_video(page, f"{own.base}index.html", face=False)
            finally:
                own.close()
        return {
            "click_to_video": clicks,
            "system": name,
            "engine": engine.label,
            "backend": last.get("diagnostics", {}).get("backend"),
            "backend_reason": last.get("diagnostics", {}).get("backend_reason"),
            "cold_ms": cold, "warm_ms": warm,
            "device": DEVICE.label,
            "main_thread": {"boot_cold": cold.get("main_thread"), "boot_warm": warm_main,
                            "after_first_emotion": settle, "running": running,
                            "boot_warm_starts": [w.get("main_thread") for w in warms]},
            "results_per_s": round(rate, 2),
            "faces_per_result": round(faces, 2),
            "running_cpu": cpu and {**cpu, "ms_a_result": round(cpu["cpus"] * 1000 / rate, 1)},
            "stages_ms": {k: percentiles(v) for k, v in stages.items()},
            "transfer": transfer(served_cold, folder),
            "peak_browser_bytes": peak_memory,
            "peak_wasm_bytes": peak_wasm,
            "inferences": len(samples),
            "last_faces": [{"box": f["box"], "emotion": f["emotion"], "scores": f["scores"]} for f in last["faces"]],
        }
    finally:
        DEVICE.stop_clicks()
        engine.close()
        site.close()


def cameras(fps: int) -> dict:
    """Per video: the y4m for Chromium's fake camera and the picture for the canvas camera."""
    folder = OUT / "camera"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for video, (make, photo, crop) in VIDEOS.items():
        stem = re.sub(r"[^a-z0-9]+", "_", video).strip("_")  # "two_faces_landmarks"
        media.photo(photo, crop).save(folder / f"{stem}.png")
        out[video] = {"y4m": make(folder / f"{stem}_{fps}fps.y4m", fps=fps), "photo": f"__test__/{stem}.png",
                      "fps": fps, "folder": folder}
    return out


def mb(value):
    return round(value / 1e6, 1) if value is not None else None


def ratio(ours, theirs):
    numbers = isinstance(ours, (int, float)) and isinstance(theirs, (int, float))
    return round(ours / theirs, 2) if numbers and ours and theirs else None


MAIN_THREAD = (  # (the table's words, the figure's key, scale)
    ("long tasks >50 ms", "long_tasks", 1), ("longest task ms", "longest_task_ms", 1),
    ("blocked %", "blocked_share", 100), ("frame interval p95 ms", "frame_interval_p95_ms", 1),
    ("input delay p95 ms", "input_delay_p95_ms", 1))
# boot: the cold start (the median one); after first emotion: the run's own cold start
PHASES = (("boot", "boot_cold"), ("after first emotion", "after_first_emotion"), ("running", "running"))


def main_thread_metrics(o: dict | None, h: dict | None) -> list[tuple]:
    """(metric, ours, theirs) for the main-thread figures of the boot and while running; None
    where a system was not measured, "≤50" for the longest task where none was over 50 ms."""
    def value(r, key, figure, scale):
        f = (r or {}).get("main_thread", {}).get(key)
        if not f:
            return None
        v = f.get(figure)
        if v is None and figure == "longest_task_ms" and f.get("long_tasks") == 0:
            return "≤50"
        return round(v * scale, 1) if v is not None and scale != 1 else v

    return [(f"{phase}: {words}", value(o, key, figure, scale), value(h, key, figure, scale))
            for phase, key in PHASES for words, figure, scale in MAIN_THREAD
            if (o or h) and any((r or {}).get("main_thread", {}).get(key) for r in (o, h))]


def first_paint(r: dict | None):
    """The median cold start's first paint, ms from navigation (where the boot's window starts;
    ``mainthread.boot_start``'s choice among the paint entries)."""
    paint = ((r or {}).get("main_thread", {}).get("boot_cold") or {}).get("paint_ms") or {}
    return mainthread.boot_start({"paint": paint.items()})[0]


def running_cpu_metrics(o: dict, h: dict) -> list[tuple]:
    """With ``--cpu-cap``: the whole browser's CPU while running, a result's share of it, and the
    display compositor's (painting the camera and the page; in software on this machine)."""
    if not (o.get("running_cpu") and h.get("running_cpu")):
        return []
    def compositor(r):
        return sum(v for k, v in r["running_cpu"]["by_thread"].items() if k.startswith("VizCompositor"))
    return [("running: browser CPU (CPUs)", o["running_cpu"]["cpus"], h["running_cpu"]["cpus"]),
            ("running: browser CPU ms a result", o["running_cpu"]["ms_a_result"], h["running_cpu"]["ms_a_result"]),
            ("running: compositor CPU (CPUs)", round(compositor(o), 3), round(compositor(h), 3))]


def summary(results: dict) -> list[tuple]:
    """Rows (video, metric, Moodlens, human, ours/theirs, device)."""
    rows = []
    for video, pair in results.items():
        if len(pair) < 2:  # one system: what it has
            name, r = next(iter(pair.items()))
            o, h = (r, None) if name == "moodlens" else (None, r)
            metrics = [("results/s", o and o["results_per_s"], h and h["results_per_s"]),
                       ("faces per result", o and o["faces_per_result"], h and h["faces_per_result"]),
                       ("cold first paint ms", first_paint(o), first_paint(h)),
                       *main_thread_metrics(o, h)]
            rows += [(video, m, ours, theirs, None, r["device"]) for m, ours, theirs in metrics]
            continue
        o, h = pair["moodlens"], pair["human"]
        metrics = [
            ("results/s", o["results_per_s"], h["results_per_s"]),
            ("cold first emotion ms", o["cold_ms"]["first-emotion"], h["cold_ms"]["first-emotion"]),
            ("warm first emotion ms", o["warm_ms"]["first-emotion"], h["warm_ms"]["first-emotion"]),
            ("cold first paint ms", first_paint(o), first_paint(h)),
            *[(f"{which} first emotion CPU s (whole browser)", o[key]["cpu_s"], h[key]["cpu_s"])
              for which, key in (("cold", "cold_ms"), ("warm", "warm_ms")) if "cpu_s" in o[key]],
            ("latency p50 ms", o["stages_ms"]["latency"]["p50"], h["stages_ms"]["latency"]["p50"]),
            ("latency p95 ms", o["stages_ms"]["latency"]["p95"], h["stages_ms"]["latency"]["p95"]),
            ("inference p50 ms", o["stages_ms"]["total"]["p50"], h["stages_ms"]["total"]["p50"]),
            ("faces per result", o["faces_per_result"], h["faces_per_result"]),
            ("transfer MB (brotli)", round(o["transfer"]["total"]["brotli"] / 1e6, 2),
             round(h["transfer"]["total"]["brotli"] / 1e6, 2)),
            ("transfer MB (gzip)", round(o["transfer"]["total"]["gzip"] / 1e6, 2),
             round(h["transfer"]["total"]["gzip"] / 1e6, 2)),
            ("peak browser memory MB (PSS)", mb(o["peak_browser_bytes"]), mb(h["peak_browser_bytes"])),
            ("peak wasm MB", round(o["peak_wasm_bytes"] / 1e6, 1), round(h["peak_wasm_bytes"] / 1e6, 1)),
            *running_cpu_metrics(o, h),
            *main_thread_metrics(o, h),
        ]
        rows += [(video, m, ours, theirs, ratio(ours, theirs), o["device"]) for m, ours, theirs in metrics]
    return rows


def shown(value) -> str:
    return "—" if value is None else str(value)


def print_table(rows, results) -> None:
    wv = max([len("video")] + [len(r[0]) for r in rows])
    wm = max([len("metric")] + [len(r[1]) for r in rows])
    print(f"\n{'video':<{wv}} {'metric':<{wm}} {'moodlens':>10} {'human':>10} {'ours/theirs':>12}  slowed")
    for video, metric, ours, theirs, r, device in rows:
        print(f"{video:<{wv}} {metric:<{wm}} {shown(ours):>10} {shown(theirs):>10} {shown(r):>12}  {device}")
    sources = {(r["engine"], f.get("tasks_from"), f.get("input_from"))
               for pair in results.values() for r in pair.values()
               for f in r.get("main_thread", {}).values() if isinstance(f, dict)}
    for engine, tasks, inputs in sorted(sources, key=str):
        print(f"main thread in {engine}: long tasks from the {tasks}, input delay from {inputs} "
              "(see moodlens_tools/mainthread.py); boot: first paint to first emotion, cold (the median start); "
              "after first emotion: to the steady state, the run's own cold start; longest task ≤50: none over 50 ms")
    for video, pair in results.items():
        for name, r in pair.items():
            print(f"\n{video}: {name} in {r['engine']} on TF.js {r['backend']}"
                  + (f" ({r['backend_reason']})" if r.get("backend_reason") else "") + f"; slowed: {r['device']}")
            for key, f in r.get("main_thread", {}).items():
                if isinstance(f, dict):
                    print(f"{video}: {name} main thread, {key}: {f}")
            print(f"{video}: {name}: {r['results_per_s']} results/s, {r['faces_per_result']} faces per result")
            print(f"{video}: {name} cold breakdown (ms from navigation; the median of {len(r['cold_ms']['all'])} "
                  f"starts): {r['cold_ms']}")
            print(f"{video}: {name} warm breakdown (ms from navigation): {r['warm_ms']}")
            print(f"{video}: {name} stages p50/p95: {r['stages_ms']}")
            if r.get("click_to_video"):
                c = r["click_to_video"]
                print(f"{video}: {name} click to own video (warm; Start pressed 0-900 ms after it is enabled): "
                      f"worst {c['worst_video_ms']} ms, median {c['median_video_ms']} ms; per click "
                      + ", ".join(f"+{k['delay_ms']}: {k['video_ms']}" for k in c["clicks"]))


HIGHER_IS_BETTER = {"results/s"}
NEUTRAL = {"faces per result"}


def chart(rows, path: Path) -> None:
    """Ours/theirs per metric as bars from 0 with a line at 1.0; green where Moodlens does
    better (more results, less time, fewer bytes), red where it does worse."""
    rows = [r for r in rows if r[4]]
    if not rows:
        return
    width, bar_h, left = 900, 22, 330
    image = Image.new("RGB", (width, 40 + bar_h * len(rows)), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 8), "Moodlens / human 3.3.6, same run and backend: ours/theirs (green: Moodlens better); "
              f"slowed: {rows[0][5]}", fill="black")
    scale = (width - left - 60) / max(3.0, max(r[4] for r in rows))
    for i, (video, metric, ours, theirs, r, _) in enumerate(rows):
        y = 34 + i * bar_h
        draw.text((10, y + 4), f"{video}: {metric}", fill="black")
        better = r >= 1 if metric in HIGHER_IS_BETTER else r <= 1
        colour = "#8b8d98" if metric in NEUTRAL else ("#30a46c" if better else "#e5484d")
        draw.rectangle((left, y + 3, left + r * scale, y + bar_h - 3), fill=colour)
        draw.text((left + r * scale + 6, y + 4), f"{r:g}", fill="black")
    draw.line((left + scale, 30, left + scale, image.height), fill="black")
    image.save(path)


def compare_backends(args, camera: dict) -> dict:
    """Moodlens alone, one face: its own choice, then each backend forced (results per second)."""
    out = {}
    for backend in ("auto", *config.BACKENDS):
        query = "?autostart=1" + ("" if backend == "auto" else f"&backend={backend}")
        try:
            r = run_system(args.browser, "moodlens", query, DIST, camera, args.seconds)
        except RuntimeError as exc:  # a backend this engine cannot run
            out[backend] = {"error": str(exc)}
            continue
        out[backend] = {"results_per_s": r["results_per_s"], "backend": r["backend"], "reason": r["backend_reason"],
                        "classify_p50_ms": r["stages_ms"].get("classify", {}).get("p50"),
                        "detect_p50_ms": r["stages_ms"].get("detect", {}).get("p50")}
        print(f"{args.browser} {backend:>5}: {out[backend]}", flush=True)
    forced = [v["results_per_s"] for k, v in out.items() if k != "auto" and "results_per_s" in v]
    if forced and "results_per_s" in out["auto"]:
        out["auto_vs_fastest"] = round(out["auto"]["results_per_s"] / max(forced), 2)
        print(f"{args.browser}: the default gives {out['auto_vs_fastest']:.0%} of the fastest forced backend's "
              "results per second")
    return out


VIDEO_CLIPS = {"one face": media.face_then_empty, "group of 4": media.group_clip}


def clip_fps(browser: str, query: str, path: Path, seconds: float) -> dict:
    """One video clip analysed in a fresh page of Moodlens with ``query``: frames per second."""
    engine = DEVICE.launch(browser)
    site = engines.TestSite(DIST, [])
    try:
        page = DEVICE.open(engine, f"{site.base}index.html{query}", camera="none")
        page.wait("document.body.dataset.state === 'ready'", 180)
        page.set_files("#video-file", [path])
        page.wait("(() => { try { const r = JSON.parse(document.getElementById('results').textContent);"
                  " return r.source === 'video' && r.file === arguments[0] && r.done; } catch (e) { return false; } })()",
                  seconds * 10 + 60, path.name)
        summary = json.loads(page.run_async("return await window.moodlensVideoExport()"))["summary"]
        return {"frames_per_second": summary["frames_per_second"], "people": len(summary.get("people", {})),
                "people_ms_per_frame": (summary.get("time_ms_per_frame") or {}).get("people")}
    finally:
        DEVICE.stop_clicks()
        engine.close()
        site.close()


def people_cost(args, camera: dict) -> dict:
    """What linking faces into people costs: Moodlens with people (the default) and without
    (``?people=0``), in turns, ``--starts`` rounds: live results per second with one face (the
    steady state after the face got its person), the time from the first emotion to the first
    person, and a one-face video clip's frames per second (against real time: 30)."""
    clip = VIDEO_CLIPS["one face"](OUT / "clips" / f"one_face_{args.clip_seconds:g}s.mp4", "libx264",
                                   seconds=args.clip_seconds)
    out: dict = {"live_results_per_s": {"with": [], "without": []}, "video_frames_per_s": {"with": [], "without": []},
                 "first_person_after_first_emotion_ms": []}
    for round_ in range(max(1, args.starts)):
        order = (("without", "&people=0"), ("with", ""))
        for label, extra in (order if round_ % 2 == 0 else order[::-1]):  # turns: the machine's drift falls on both
            r = run_system(args.browser, "moodlens", "?autostart=1" + extra, DIST, camera, args.seconds, sweep=False)
            out["live_results_per_s"][label].append(r["results_per_s"])
            if label == "with":
                out["first_person_after_first_emotion_ms"].append(r["cold_ms"].get("person_after_ms"))
                out.setdefault("people_stage_ms", []).append(r["stages_ms"].get("people"))
            v = clip_fps(args.browser, "?people=0" if label == "without" else "", clip, args.clip_seconds)
            out["video_frames_per_s"][label].append(v["frames_per_second"])
            stages = {k: v["p50"] for k, v in r["stages_ms"].items()}
            print(f"{args.browser} people {label}: live {r['results_per_s']} results/s (p50 ms: {stages}), "
                  f"video {v}", flush=True)
    for key in ("live_results_per_s", "video_frames_per_s"):
        with_, without = (statistics.median(out[key][k]) for k in ("with", "without"))
        out[key]["ratio_with_to_without"] = round(with_ / without, 3) if without else None
    out["video_times_real_time_with_people"] = round(statistics.median(out["video_frames_per_s"]["with"]) / 30.0, 2)
    print(f"{args.browser}: with people, live results per second x{out['live_results_per_s']['ratio_with_to_without']}"
          f" of without; video x{out['video_frames_per_s']['ratio_with_to_without']} "
          f"({out['video_times_real_time_with_people']}x real time); first person "
          f"{out['first_person_after_first_emotion_ms']} ms after the first emotion", flush=True)
    return out


def onnx_speed(args, camera: dict) -> dict:
    """An ONNX model of MobileFaceNet's size (about 1 M parameters, 112×112 RGB; made by
    tests/onnx_models.py, converted by `build.py convert`) against the oarriaga graph model, each
    on the fake camera's one face for ``--seconds``, in turns for ``--starts`` rounds: the
    classify stage's milliseconds per face (p50) and results per second. A third run serves the
    site cross-origin isolated (the production headers plus COEP ``require-corp``), where
    onnxruntime-web may use threads; and each model's multiply-accumulates per face, so the
    times can be read against the work."""
    from moodlens_build.site import site_headers
    from moodlens_tools import convert_onnx, model_choice
    from tests import onnx_models

    folder = OUT / "onnx"
    model = convert_onnx.convert(onnx_models.mobilefacenet_like(folder / "mobilefacenet-like.onnx"),
                                 folder / "mobilefacenet-like", list(onnx_models.HSEMOTION_LABELS),
                                 mean=[0.5] * 3, std=[0.5] * 3, name="MobileFaceNet-sized (bench)")
    isolated = {**site_headers(), "Cross-Origin-Embedder-Policy": "require-corp"}
    runs = {"oarriaga-emotion": ("oarriaga-emotion", None), model["id"]: (model["id"], None),
            "onnx isolated": (model["id"], isolated)}
    out: dict = {"onnx_parameters": onnx_models.parameters(folder / "mobilefacenet-like.onnx"),
                 "macs_per_face": {"oarriaga-emotion": onnx_models.tfjs_macs(DIST / "models/oarriaga-emotion/emotion.json"),
                                   model["id"]: onnx_models.onnx_macs(folder / "mobilefacenet-like.onnx")},
                 "classify_ms_p50": {k: [] for k in runs}, "results_per_s": {k: [] for k in runs},
                 "threads": {}}
    for round_ in range(max(1, args.starts)):
        order = list(runs)
        for label in (order if round_ % 2 == 0 else order[::-1]):
            name, headers = runs[label]
            engine = DEVICE.launch(args.browser, face_video=camera["y4m"])
            site = serve(args.browser, "moodlens", DIST, camera, headers=headers)
            try:
                query = "?autostart=1&people=0" + ("&model=oarriaga-emotion" if name == "oarriaga-emotion" else "")
                page = DEVICE.open(engine, f"{site.base}index.html{query}", camera="face")
                page.wait("document.body.dataset.state === 'running'", 180)
                if name != "oarriaga-emotion":
                    model_choice.use_folder(page, folder / name)
                page.wait_result(f"r.model === {json.dumps(name)} && r.faces && r.faces.length === 1", 120)
                page.run("window.__bench = []")
                end = time.monotonic() + args.seconds
                while time.monotonic() < end:  # sampling, not waiting for a condition
                    time.sleep(0.5)
                samples = [r for _, r in page.run("return window.__bench") if r.get("model") == name and r["faces"]]
                out["threads"][label] = page.run("return window.crossOriginIsolated ? "
                                                 "Math.min(4, navigator.hardwareConcurrency) : 1")
            finally:
                engine.close()
                site.close()
            classify = statistics.median(r["stages_ms"]["classify"] / len(r["faces"]) for r in samples)
            rate = (samples[-1]["frame"] - samples[0]["frame"]) / max(1e-9, (samples[-1]["frame_ms"]
                                                                             - samples[0]["frame_ms"]) / 1000.0)
            out["classify_ms_p50"][label].append(round(classify, 2))
            out["results_per_s"][label].append(round(rate, 2))
            print(f"{args.browser} {label}: classify {classify:.2f} ms a face (p50), {rate:.1f} results/s", flush=True)
    medians = {k: statistics.median(v) for k, v in out["classify_ms_p50"].items()}
    theirs = medians["oarriaga-emotion"]
    out["classify_ratio_onnx_to_oarriaga"] = round(medians[model["id"]] / theirs, 3) if theirs else None
    out["classify_ratio_isolated_to_oarriaga"] = round(medians["onnx isolated"] / theirs, 3) if theirs else None
    macs = out["macs_per_face"]
    out["work_ratio_onnx_to_oarriaga"] = round(macs[model["id"]] / macs["oarriaga-emotion"], 2)
    print(f"{args.browser}: the ONNX model classifies a face in {medians[model['id']]:.2f} ms "
          f"({macs[model['id']] / 1e6:.0f} M multiply-adds), {medians['onnx isolated']:.2f} ms cross-origin isolated "
          f"({out['threads']['onnx isolated']} threads), oarriaga {theirs:.2f} ms ({macs['oarriaga-emotion'] / 1e6:.0f} M); "
          f"ratios {out['classify_ratio_onnx_to_oarriaga']} and {out['classify_ratio_isolated_to_oarriaga']} "
          f"for {out['work_ratio_onnx_to_oarriaga']}x the work", flush=True)
    return out


def video_files(args) -> dict:
    """Video mode: 640×480, 30 fps clips (H.264 MP4) analysed frame by frame in one page; frames
    per second of wall time, against real time, where the time goes, long tasks, memory."""
    folder = OUT / "clips"
    clips = {"one face": VIDEO_CLIPS["one face"](folder / f"one_face_{args.clip_seconds:g}s.mp4", "libx264",
                                                 seconds=args.clip_seconds),
             "group of 4": VIDEO_CLIPS["group of 4"](folder / f"group_{args.clip_seconds:g}s.mp4", "libx264",
                                                     seconds=args.clip_seconds)}
    engine = DEVICE.launch(args.browser)
    site = engines.TestSite(DIST, [])
    out = {"engine": engine.label, "device": DEVICE.label}
    try:
        page = DEVICE.open(engine, f"{site.base}index.html", camera="none")
        page.wait("document.body.dataset.state === 'ready'", 180)
        for name, path in clips.items():
            memory_before = browser_memory()
            wasm_before = page.run(WASM_HEAP)
            page.set_files("#video-file", [path])
            page.wait("(() => { try { const r = JSON.parse(document.getElementById('results').textContent);"
                      " return r.source === 'video' && r.file === arguments[0] && r.done; } catch (e) { return false; } })()",
                      args.clip_seconds * 10 + 60, path.name)
            data = json.loads(page.run_async("return await window.moodlensVideoExport()"))
            summary = data["summary"]
            out[name] = {
                "frames": summary["analysed_frames"], "seconds": summary["seconds"],
                "frames_per_second": summary["frames_per_second"],
                "times_real_time": round(summary["frames_per_second"] / 30.0, 2),
                "time_ms_per_frame": summary.get("time_ms_per_frame"),
                "browser_memory_growth_mb": round((browser_memory() - memory_before) / 1e6, 1),
                "wasm_growth_mb": round((page.run(WASM_HEAP) - wasm_before) / 1e6, 1),
                "faces": len(summary["faces"]),
            }
            print(f"{args.browser} video, {name}: {out[name]}", flush=True)
    finally:
        DEVICE.stop_clicks()
        engine.close()
        site.close()
    return out


def wasm_code_cache(camera: dict) -> dict:
    """Chromium's WebAssembly code cache for pyodide.asm.wasm, read from a performance trace:
    a first visit and a reload, once with the service worker (as a visitor has it) and once with
    service workers blocked (the HTTP cache alone). Per visit: Python up (ms after navigation),
    whether V8 found a cached module (``v8.wasm.compileConsume`` with its ms; on a first
    visit the lookup finds nothing), and the ms of TurboFan compilation on V8's worker threads
    until Python was up (these jobs share the machine's two cores with the boot)."""
    import tempfile

    site = engines.TestSite(DIST, ["__test__/collect.js"], extra=camera["folder"])
    out = {}
    try:
        for label, workers in (("service worker", "allow"), ("HTTP cache only", "block")):
            # A fresh browser each: no code cache from the other.
            with engines.Chromium(wrap=DEVICE.cap.wrap if DEVICE.cap else None) as engine:
                browser, page = engine.browser(), engine.new_page(service_workers=workers).page
                DEVICE.throttle_page(page.context.new_cdp_session(page))
                visits = []
                for visit in ("first visit", "reload"):
                    trace = Path(tempfile.mkstemp(suffix=".json")[1])
                    browser.start_tracing(page=page, path=str(trace), categories=["v8.wasm", "disabled-by-default-devtools.timeline", "blink.user_timing"])
                    page.goto(f"{site.base}index.html") if visit == "first visit" else page.reload()
                    page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=120000)
                    browser.stop_tracing()
                    up = round(page.evaluate("performance.getEntriesByName('moodlens:python')[0].startTime"))
                    events = json.loads(trace.read_text())["traceEvents"]
                    trace.unlink()
                    until = max(e["ts"] for e in events if e.get("name") == "moodlens:python")
                    start = until - up * 1000
                    consume = [e for e in events if e.get("name") == "v8.wasm.compileConsume" and e["ts"] < until]
                    top_tier = sum(e.get("dur", 0) for e in events
                                   if e.get("name") == "wasm.TopTierCompilation" and start <= e["ts"] < until)
                    visits.append({"visit": visit, "python_up_ms": up,
                                   "cache_lookup_ms": [round(e.get("dur", 0) / 1000, 1) for e in consume],
                                   "top_tier_compile_ms": round(top_tier / 1000)})
                    if visit == "first visit" and workers == "allow":  # active: it has cached every file
                        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
                out[label] = visits
                print(f"wasm code cache, {label}: {visits}", flush=True)
    finally:
        site.close()
    return out


# A fixed amount of arithmetic, timed on the page's main thread and in a dedicated worker, alone
# and both at once (the median of five runs each): what --throttle and --cpu-cap do to each thread.
CALIBRATE = """
const source = `const loop = (n) => { let x = 0; for (let i = 0; i < n; i++) x = (x + i * 7) % 1000003; return x; };
  const time = (n) => { const t = performance.now(); loop(n); return performance.now() - t; };
  const times = (k) => { const out = []; for (let i = 0; i < k; i++) out.push(time(2e7)); return out; };`;
const { times } = new Function(source + "return { times };")();
const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
const worker = new Worker(URL.createObjectURL(new Blob([source + "onmessage = (e) => postMessage(times(e.data));"])));
const inWorker = (k) => new Promise((resolve) => { worker.onmessage = (e) => resolve(e.data); worker.postMessage(k); });
const mainAlone = times(5);
const workerAlone = await inWorker(5);
const pending = inWorker(7);  // longer, so the worker is busy throughout the main thread's runs
const mainWithWorker = times(5);
const workerWithMain = await pending;
worker.terminate();
return { main_alone_ms: median(mainAlone), worker_alone_ms: median(workerAlone),
         main_with_worker_ms: median(mainWithWorker), worker_with_main_ms: median(workerWithMain) };"""


def calibrate(browser: str) -> dict:
    """CALIBRATE on a blank page of this origin, in a browser launched on DEVICE."""
    folder = OUT / "calibrate"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text('<!doctype html><meta charset="utf-8"><title>calibrate</title><p>calibrate')
    site = engines.TestSite(folder, [], headers={})
    engine = DEVICE.launch(browser)
    try:
        page = DEVICE.open(engine, f"{site.base}index.html", camera="none")
        page.wait("document.readyState === 'complete'", 30)
        out = {k: round(v) for k, v in page.run_async(CALIBRATE).items()}
        out.update(engine=engine.label, device=DEVICE.label)
    finally:
        DEVICE.stop_clicks()
        engine.close()
        site.close()
    print(f"{browser}, slowed: {DEVICE.label}: {out}", flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--browser", default="chromium", choices=engines.ENGINES)
    parser.add_argument("--seconds", type=float, default=15.0, help="steady-state measurement per run")
    parser.add_argument("--backend", default="auto", choices=("auto", "wasm", "webgl", "cpu"),
                        help="auto (default): Moodlens chooses, human gets the same backend")
    parser.add_argument("--fps", type=int, default=60,
                        help="frame rate of the camera (default 60: at 30 the camera, not the code, caps "
                             "results per second)")
    parser.add_argument("--starts", type=int, default=3,
                        help="cold starts (each in a fresh engine) and warm starts per system and video; "
                             "the median counts (default 3)")
    parser.add_argument("--video", choices=sorted(VIDEOS), action="append", help="only these videos (repeatable)")
    parser.add_argument("--query", default="", help="extra URL parameters for Moodlens, e.g. model=fer-mini-xception")
    parser.add_argument("--system", choices=("moodlens", "human"), action="append",
                        help="only these systems (repeatable); ratios need both")
    parser.add_argument("--onnx-speed", action="store_true",
                        help="an ONNX model of MobileFaceNet's size against the oarriaga graph model: ms per face")
    parser.add_argument("--people-cost", action="store_true",
                        help="Moodlens with and without people (?people=0), in turns: live results per second, "
                             "a video clip's frames per second, the time to the first person")
    parser.add_argument("--compare-backends", action="store_true",
                        help="Moodlens alone on one face: its own choice against each backend forced")
    parser.add_argument("--video-files", action="store_true",
                        help="video mode: 640x480 30 fps H.264 clips analysed frame by frame (Moodlens alone)")
    parser.add_argument("--clip-seconds", type=float, default=20.0, help="length of each --video-files clip")
    parser.add_argument("--wasm-cache", action="store_true",
                        help="Chromium only: does the WebAssembly code cache hold pyodide.asm.wasm, with and "
                             "without the service worker (read from a performance trace)")
    parser.add_argument("--throttle", type=float, metavar="N",
                        help="Chromium only: slow every page's main thread N times (CDP CPU throttling; "
                             "workers run at full speed), for main-thread figures")
    parser.add_argument("--cpu-cap", type=float, metavar="F",
                        help="run the whole browser (every process and thread) in a cgroup v1 CPU quota of F CPUs "
                             "(0.5: a quarter of a 2-core machine); Linux, as root")
    parser.add_argument("--calibrate", action="store_true",
                        help="time a CPU loop on a blank page's main thread and in a worker, alone and together, "
                             "on the device --throttle/--cpu-cap make (what the slowing does)")
    args = parser.parse_args(argv)
    problem = engines.missing(args.browser)
    if problem:
        print(f"{args.browser} is not installed: apt-get install {problem}", file=sys.stderr)
        return 2
    if args.throttle is not None and args.browser != "chromium":
        print(f"--throttle is Chromium's CPU throttling (CDP); {args.browser} has none. "
              "Use --cpu-cap to slow any engine (the whole browser).", file=sys.stderr)
        return 2
    if args.throttle is not None and args.throttle < 1:
        print("--throttle N: N is a slow-down factor, 1 or more", file=sys.stderr)
        return 2
    cap = None
    if args.cpu_cap is not None:
        try:
            cap = cpucap.CpuCap(args.cpu_cap)
        except cpucap.CpuCapError as exc:
            print(f"--cpu-cap: {exc}", file=sys.stderr)
            return 2
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the group is removed (atexit)
    global DEVICE
    DEVICE = Device(args.throttle, cap)
    try:
        return run(args)
    finally:
        if cap:
            left = cap.close()
            if left:
                print(f"--cpu-cap: processes {left} were still in the group at exit; moved out of it",
                      file=sys.stderr)


def write(report: dict, name: str) -> Path:
    """results.json and the like, with how the device was slowed (and what the cap did)."""
    report["device"] = {"slowed": DEVICE.label, "throttle": DEVICE.throttle,
                        "cpu_cap": DEVICE.cap.cpus if DEVICE.cap else None,
                        "cgroup": DEVICE.cap.stats() if DEVICE.cap else None}
    path = OUT / name
    path.write_text(json.dumps(report, indent=1))
    if DEVICE.cap:
        c = report["device"]["cgroup"]
        print(f"\ncpu cap {c['cpus']:g}: the browsers used {c['cpu_seconds']} CPU s; the quota ran out in "
              f"{c['throttled_periods']} of {c['periods']} periods of {c['period_us'] / 1000:g} ms "
              f"({c['throttled_seconds']} s waited)")
    return path


def run(args) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    camera = cameras(args.fps)
    report = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "browser": args.browser, "backend": args.backend, "seconds": args.seconds, "camera_fps": args.fps,
        "query": args.query,
    }
    if args.calibrate:
        report["calibrate"] = calibrate(args.browser)
        print(f"\nwrote {write(report, f'calibrate-{args.browser}.json')}")
        return 0
    if args.video_files:
        report["video_files"] = video_files(args)
        print(f"\nwrote {write(report, f'video-{args.browser}.json')}")
        return 0
    if args.wasm_cache:
        report["wasm_code_cache"] = wasm_code_cache(camera["one face"])
        print(f"\nwrote {write(report, 'wasm-cache.json')}")
        return 0
    if args.onnx_speed:
        report["onnx_speed"] = onnx_speed(args, camera["one face"])
        print(f"\nwrote {write(report, f'onnx-{args.browser}.json')}")
        return 0
    if args.people_cost:
        report["people_cost"] = people_cost(args, camera["one face"])
        print(f"\nwrote {write(report, f'people-{args.browser}.json')}")
        return 0
    if args.compare_backends:
        report["backends"] = compare_backends(args, camera["one face"])
        print(f"\nwrote {write(report, f'backends-{args.browser}.json')}")
        return 0
    peer = human_site(OUT / "human-site")
    # One throwaway launch first: the first system measured must not be the one that pays for
    # reading the browser itself from disk (every measured run still gets a fresh, empty profile).
    with DEVICE.launch(args.browser, face_video=camera["one face"]["y4m"]) as engine:
        engine.open("about:blank", camera="none").close()
    extra = f"&{args.query.lstrip('?&')}" if args.query else ""
    results = {}
    for video in VIDEOS:
        if args.video and video not in args.video:
            continue
        results[video] = {}
        backend = None if args.backend == "auto" else args.backend
        ours_query = ("?autostart=1" + (f"&backend={backend}" if backend else "") + extra
                      + (f"&{VIDEO_QUERY[video]}" if video in VIDEO_QUERY else ""))
        systems = [s for s in ("moodlens", "human") if not args.system or s in args.system]
        if video in MOODLENS_ONLY:
            if "moodlens" in systems:
                results[video]["moodlens"] = run_system(args.browser, "moodlens", ours_query, DIST, camera[video],
                                                        args.seconds, args.starts, sweep=False)
                r = results[video]["moodlens"]
                r["cold_ms"], r["main_thread"]["boot_cold"] = median_start([r["cold_ms"]])
            continue
        if "moodlens" in systems:
            ours = results[video]["moodlens"] = run_system(args.browser, "moodlens", ours_query, DIST,
                                                           camera[video], args.seconds, args.starts)
            backend = backend or ours["backend"]  # the peer runs on what Moodlens chose
        queries = {"moodlens": (ours_query, DIST), "human": (f"?backend={backend or 'wasm'}", peer)}
        # The other cold starts, taken in turns (Moodlens, human, Moodlens, ...), so the machine's
        # drift over minutes falls on both alike; each system's own run's cold start counts too.
        colds: dict[str, list[dict]] = {s: [] for s in systems}
        for _ in range(args.starts - 1):
            for system in systems:
                colds[system].append(cold_start(args.browser, system, *queries[system], camera[video]))
        if "human" in systems:
            results[video]["human"] = run_system(args.browser, "human", *queries["human"], camera[video],
                                                 args.seconds, args.starts)
        for system in systems:
            r = results[video][system]
            starts = [r["cold_ms"], *colds[system]]
            one_offs = {k: v for k, v in r["cold_ms"].items() if k in ONE_OFFS}  # only the run's own start waits for them
            r["cold_ms"], r["main_thread"]["boot_cold"] = median_start(starts)
            r["cold_ms"].update(one_offs)
            r["main_thread"]["boot_cold_starts"] = [s.get("main_thread") for s in starts]
        if not results[video]:
            del results[video]
    rows = summary(results)
    report.update(results=results, table=rows, stalls=STALLS)
    path = write(report, "results.json")
    if rows:
        chart(rows, OUT / "chart.png")
    print_table(rows, results)
    for stall in STALLS:
        print(f"taken again: {stall}")
    print(f"\nwrote {path} and {OUT / 'chart.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
