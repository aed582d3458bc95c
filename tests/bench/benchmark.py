"""Side-by-side benchmark: Moodlens against @vladmandic/human 3.3.6, same camera, same backend.

    python3 build.py bench [--browser chromium|firefox|webkit] [--seconds 15] [--backend auto|wasm|webgl|cpu]
                           [--fps 60] [--video "one face"] [--system moodlens] [--compare-backends]

For each system and each camera video (one face; a group of four), in one engine: cold start
(empty cache) and warm start (reload) to the first emotion on screen with its breakdown (the
median of ``--starts``, 3 by default, each cold one in a fresh engine, the systems in turns),
steady-state results per second, per-stage p50/p95, end-to-end latency (camera capture to
results on screen), bytes per asset (as served, gzip, brotli), peak JS heap (Chromium only)
and wasm memory. The camera: Chromium's file-backed fake camera; in Firefox and WebKit (whose
fake cameras show a pattern) ``canvas.captureStream()`` of the same picture, for both systems.
``--backend auto`` (the default) lets Moodlens choose and gives human the backend Moodlens
chose; ``--compare-backends`` runs Moodlens alone with its own choice and with each backend
forced, to check the choice against the fastest. Writes tests/.artifacts/bench/results.json
and chart.png and prints a table. Not part of the test run: numbers are measurements, not pass/fail.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import brotli
from PIL import Image, ImageDraw

from moodlens import config
from moodlens_build.paths import DIST, NODE, ROOT
from moodlens_tools import engines
from tests.e2e import media  # run as `python -m tests.bench.benchmark` from the project (build.py does)

OUT = ROOT / "tests" / ".artifacts" / "bench"
HUMAN = NODE / "@vladmandic" / "human"
HUMAN_MODELS = ("blazeface.json", "blazeface.bin", "emotion.json", "emotion.bin")
VIDEOS = {"one face": (media.one_face_video, "sample1.jpg", media.ONE_FACE_CROP),
          "group of 4": (media.group_video, "sample6.jpg", media.GROUP_CROP)}

# All WebAssembly memory: TF.js's wasm heap (a global `tf` on our page) plus what the page
# reports in #results.diagnostics (Pyodide's heap for us; TF.js's heap for the peer, whose
# bundled TF.js is not global, so nothing is counted twice).
WASM_HEAP = """
  let bytes = 0;
  try { if (window.tf && tf.getBackend() === 'wasm') bytes += Number(tf.backend().wasm.HEAPU8.length) || 0; } catch (e) {}
  try { bytes += Number(JSON.parse(document.getElementById('results').textContent).diagnostics.wasm_heap_bytes) || 0; }
  catch (e) {}
  return bytes;"""


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


def wait_first_emotion(page, timeout: float = 120.0) -> dict:
    try:
        page.wait("performance.getEntriesByName('moodlens:first-emotion', 'mark').length > 0", timeout,
                  fail=engines.IN_ERROR)
    except AssertionError:
        if page.state() == "error":
            raise RuntimeError(page.run("return (document.getElementById('status') || "
                                        "document.getElementById('results')).textContent")) from None
        raise RuntimeError("no emotion on screen in time") from None
    return marks(page)


def transfer(urls: list[str], base: str, folder: Path) -> dict:
    """Bytes per asset as served and compressed, for the files the page fetched."""
    assets = {}
    for url in dict.fromkeys(urls):
        if not url.startswith(base):
            continue
        path = folder / url[len(base):].split("?")[0]
        if path.is_file():
            data = path.read_bytes()
            assets[path.relative_to(folder).as_posix()] = {
                "bytes": len(data), "gzip": len(gzip.compress(data, 9)), "brotli": len(brotli.compress(data))}
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


def serve(browser: str, name: str, folder: Path, camera: dict) -> engines.TestSite:
    scripts = ["__test__/collect.js"] + [s for s in engines.page_scripts(browser, "face", camera["photo"], camera["fps"])
                                         if "record.js" not in s]
    return engines.TestSite(folder, scripts, extra=camera["folder"], headers=None if name == "moodlens" else {})


def median_start(starts: list[dict]) -> dict:
    """The start whose first emotion is the median one (its whole breakdown), with every start's
    first emotion beside it: one start on this shared machine swings by up to a second."""
    ordered = sorted(starts, key=lambda m: m["first-emotion"])
    marks = {k: v for k, v in ordered[len(ordered) // 2].items() if k != "all"}
    return {**marks, "all": [m["first-emotion"] for m in starts]}


def cold_start(browser: str, name: str, query: str, folder: Path, camera: dict) -> dict:
    """One more cold start (a fresh engine, an empty profile): its marks."""
    engine = engines.launch(browser, face_video=camera["y4m"])
    site = serve(browser, name, folder, camera)
    try:
        return wait_first_emotion(engine.open(f"{site.base}index.html{query}", camera="face"))
    finally:
        engine.close()
        site.close()


def run_system(browser: str, name: str, query: str, folder: Path, camera: dict, seconds: float,
               warm_starts: int = 1) -> dict:
    """One system on one video in a fresh engine (an empty profile: the first load is cold;
    the caller adds its other cold starts) and ``warm_starts`` reloads."""
    engine = engines.launch(browser, face_video=camera["y4m"])
    site = serve(browser, name, folder, camera)
    try:
        page = engine.open(f"{site.base}index.html{query}", camera="face")
        cold = wait_first_emotion(page)
        urls = page.run("return [location.href, ...performance.getEntriesByType('resource').map((e) => e.name)]")
        bytes_cold = transfer(urls, site.base, folder)

        # Steady state: every result of `seconds` after the first, peak memory sampled meanwhile.
        cdp = page.context.new_cdp_session(page.page) if isinstance(page, engines.ChromiumPage) else None
        page.run("window.__bench = []")
        peak_heap, peak_wasm = (0 if cdp else None), 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if cdp:
                peak_heap = max(peak_heap, cdp.send("Runtime.getHeapUsage")["usedSize"])
            peak_wasm = max(peak_wasm, page.run(WASM_HEAP))
            time.sleep(0.5)
        samples = page.run("return window.__bench")
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
            page.reload()
            warms.append(wait_first_emotion(page))
        warm = median_start(warms)
        click = None
        if name == "moodlens" and browser == "chromium":  # its fake camera is a device, showing the face
            click = click_to_video(page, f"{site.base}index.html", face=True)
        elif name == "moodlens":
            # The engine's own fake camera (a test pattern, through the engine's capture path), not
            # the page script standing in for a camera with a face: that script draws its frames
            # on the main thread the boot keeps busy, so it would time the script, not the page.
            own = engines.TestSite(folder, ["__test__/collect.js"])
            try:
                click = click_to_video(page, f"{own.base}index.html", face=False)
            finally:
                own.close()
        return {
            "click_to_video": click,
            "system": name,
            "engine": engine.label,
            "backend": last.get("diagnostics", {}).get("backend"),
            "backend_reason": last.get("diagnostics", {}).get("backend_reason"),
            "cold_ms": cold, "warm_ms": warm,
            "results_per_s": round(rate, 2),
            "faces_per_result": round(faces, 2),
            "stages_ms": {k: percentiles(v) for k, v in stages.items()},
            "transfer": bytes_cold,
            "peak_js_heap_bytes": peak_heap,
            "peak_wasm_bytes": peak_wasm,
            "inferences": len(samples),
            "last_faces": [{"box": f["box"], "emotion": f["emotion"], "scores": f["scores"]} for f in last["faces"]],
        }
    finally:
        engine.close()
        site.close()


def cameras(fps: int) -> dict:
    """Per video: the y4m for Chromium's fake camera and the picture for the canvas camera."""
    folder = OUT / "camera"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for video, (make, photo, crop) in VIDEOS.items():
        stem = video.replace(" ", "_")
        media.photo(photo, crop).save(folder / f"{stem}.png")
        out[video] = {"y4m": make(folder / f"{stem}_{fps}fps.y4m", fps=fps), "photo": f"__test__/{stem}.png",
                      "fps": fps, "folder": folder}
    return out


def mb(value):
    return round(value / 1e6, 1) if value is not None else None


def ratio(ours, theirs):
    return round(ours / theirs, 2) if ours and theirs else None


def summary(results: dict) -> list[tuple]:
    rows = []
    for video, pair in results.items():
        if len(pair) < 2:
            continue
        o, h = pair["moodlens"], pair["human"]
        metrics = [
            ("results/s", o["results_per_s"], h["results_per_s"]),
            ("cold first emotion ms", o["cold_ms"]["first-emotion"], h["cold_ms"]["first-emotion"]),
            ("warm first emotion ms", o["warm_ms"]["first-emotion"], h["warm_ms"]["first-emotion"]),
            ("latency p50 ms", o["stages_ms"]["latency"]["p50"], h["stages_ms"]["latency"]["p50"]),
            ("latency p95 ms", o["stages_ms"]["latency"]["p95"], h["stages_ms"]["latency"]["p95"]),
            ("inference p50 ms", o["stages_ms"]["total"]["p50"], h["stages_ms"]["total"]["p50"]),
            ("faces per result", o["faces_per_result"], h["faces_per_result"]),
            ("transfer MB (brotli)", round(o["transfer"]["total"]["brotli"] / 1e6, 2),
             round(h["transfer"]["total"]["brotli"] / 1e6, 2)),
            ("transfer MB (gzip)", round(o["transfer"]["total"]["gzip"] / 1e6, 2),
             round(h["transfer"]["total"]["gzip"] / 1e6, 2)),
            ("peak JS heap MB", mb(o["peak_js_heap_bytes"]), mb(h["peak_js_heap_bytes"])),
            ("peak wasm MB", round(o["peak_wasm_bytes"] / 1e6, 1), round(h["peak_wasm_bytes"] / 1e6, 1)),
        ]
        rows += [(video, m, ours, theirs, ratio(ours, theirs)) for m, ours, theirs in metrics]
    return rows


def print_table(rows, results) -> None:
    print(f"\n{'video':<11} {'metric':<24} {'moodlens':>10} {'human':>10} {'ours/theirs':>12}")
    for video, metric, ours, theirs, r in rows:
        print(f"{video:<11} {metric:<24} {ours!s:>10} {theirs!s:>10} {r!s:>12}")
    for video, pair in results.items():
        for name, r in pair.items():
            print(f"\n{video}: {name} in {r['engine']} on TF.js {r['backend']}"
                  + (f" ({r['backend_reason']})" if r.get("backend_reason") else ""))
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
    width, bar_h, left = 900, 22, 330
    image = Image.new("RGB", (width, 40 + bar_h * len(rows)), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 8), "Moodlens / human 3.3.6, same run and backend: ours/theirs (green: Moodlens better)",
              fill="black")
    scale = (width - left - 60) / max(3.0, max(r[4] for r in rows))
    for i, (video, metric, ours, theirs, r) in enumerate(rows):
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


def video_files(args) -> dict:
    """Video mode: 640×480, 30 fps clips (H.264 MP4) analysed frame by frame in one page; frames
    per second of wall time, against real time, where the time goes, long tasks, memory."""
    folder = OUT / "clips"
    clips = {"one face": VIDEO_CLIPS["one face"](folder / f"one_face_{args.clip_seconds:g}s.mp4", "libx264",
                                                 seconds=args.clip_seconds),
             "group of 4": VIDEO_CLIPS["group of 4"](folder / f"group_{args.clip_seconds:g}s.mp4", "libx264",
                                                     seconds=args.clip_seconds)}
    engine = engines.launch(args.browser)
    site = engines.TestSite(DIST, [])
    out = {"engine": engine.label}
    try:
        page = engine.open(f"{site.base}index.html", camera="none")
        page.wait("document.body.dataset.state === 'ready'", 180)
        cdp = page.context.new_cdp_session(page.page) if isinstance(page, engines.ChromiumPage) else None
        for name, path in clips.items():
            heap_before = cdp.send("Runtime.getHeapUsage")["usedSize"] if cdp else None
            wasm_before = page.run(WASM_HEAP)
            page.set_files("#video-file", [path])
            page.wait("(() => { try { const r = JSON.parse(document.getElementById('results').textContent);"
                      " return r.source === 'video' && r.file === arguments[0] && r.done; } catch (e) { return false; } })()",
                      args.clip_seconds * 10 + 60, path.name)
            data = json.loads(page.run("return window.moodlensVideoExport()"))
            summary = data["summary"]
            if cdp:
                cdp.send("HeapProfiler.collectGarbage")
            out[name] = {
                "frames": summary["analysed_frames"], "seconds": summary["seconds"],
                "frames_per_second": summary["frames_per_second"],
                "times_real_time": round(summary["frames_per_second"] / 30.0, 2),
                "time_ms_per_frame": summary.get("time_ms_per_frame"),
                "long_tasks": data["metadata"].get("long_tasks"),
                "js_heap_growth_mb": round((cdp.send("Runtime.getHeapUsage")["usedSize"] - heap_before) / 1e6, 1)
                if cdp else None,
                "wasm_growth_mb": round((page.run(WASM_HEAP) - wasm_before) / 1e6, 1),
                "faces": len(summary["faces"]),
            }
            print(f"{args.browser} video, {name}: {out[name]}", flush=True)
    finally:
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
            with engines.Chromium() as engine:  # a fresh browser each: no code cache from the other
                browser, page = engine.browser(), engine.new_page(service_workers=workers).page
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
    parser.add_argument("--compare-backends", action="store_true",
                        help="Moodlens alone on one face: its own choice against each backend forced")
    parser.add_argument("--video-files", action="store_true",
                        help="video mode: 640x480 30 fps H.264 clips analysed frame by frame (Moodlens alone)")
    parser.add_argument("--clip-seconds", type=float, default=20.0, help="length of each --video-files clip")
    parser.add_argument("--wasm-cache", action="store_true",
                        help="Chromium only: does the WebAssembly code cache hold pyodide.asm.wasm, with and "
                             "without the service worker (read from a performance trace)")
    args = parser.parse_args(argv)
    problem = engines.missing(args.browser)
    if problem:
        print(f"{args.browser} is not installed: apt-get install {problem}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    camera = cameras(args.fps)
    report = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "browser": args.browser, "backend": args.backend, "seconds": args.seconds, "camera_fps": args.fps,
        "query": args.query,
    }
    if args.video_files:
        report["video_files"] = video_files(args)
        (OUT / f"video-{args.browser}.json").write_text(json.dumps(report, indent=1))
        print(f"\nwrote {OUT / f'video-{args.browser}.json'}")
        return 0
    if args.wasm_cache:
        report["wasm_code_cache"] = wasm_code_cache(camera["one face"])
        (OUT / "wasm-cache.json").write_text(json.dumps(report, indent=1))
        print(f"\nwrote {OUT / 'wasm-cache.json'}")
        return 0
    if args.compare_backends:
        report["backends"] = compare_backends(args, camera["one face"])
        (OUT / f"backends-{args.browser}.json").write_text(json.dumps(report, indent=1))
        print(f"\nwrote {OUT / f'backends-{args.browser}.json'}")
        return 0
    peer = human_site(OUT / "human-site")
    # One throwaway launch first: the first system measured must not be the one that pays for
    # reading the browser itself from disk (every measured run still gets a fresh, empty profile).
    with engines.launch(args.browser, face_video=camera["one face"]["y4m"]) as engine:
        engine.open("about:blank", camera="none").close()
    extra = f"&{args.query.lstrip('?&')}" if args.query else ""
    results = {}
    for video in VIDEOS:
        if args.video and video not in args.video:
            continue
        results[video] = {}
        backend = None if args.backend == "auto" else args.backend
        ours_query = "?autostart=1" + (f"&backend={backend}" if backend else "") + extra
        systems = [s for s in ("moodlens", "human") if not args.system or s in args.system]
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
            r["cold_ms"] = median_start([r["cold_ms"], *colds[system]])
    rows = summary(results)
    report.update(results=results, table=rows)
    (OUT / "results.json").write_text(json.dumps(report, indent=1))
    if rows:
        chart(rows, OUT / "chart.png")
    print_table(rows, results)
    print(f"\nwrote {OUT / 'results.json'} and {OUT / 'chart.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
