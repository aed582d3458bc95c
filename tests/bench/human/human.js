// Benchmark peer: human 3.3.6 configured for face detection + emotion only (see FACTS.md:
// skipFrames 0, cacheSensitivity 0), every file served from this origin.
import { Human } from "./human.esm.js";

const backend = new URLSearchParams(location.search).get("backend") || "wasm";
const human = new Human({
  backend,
  wasmPath: "./tfjs/",
  modelBasePath: "./models/",
  debug: false,
  cacheSensitivity: 0,
  filter: { enabled: false },
  gesture: { enabled: false },
  body: { enabled: false },
  hand: { enabled: false },
  object: { enabled: false },
  segmentation: { enabled: false },
  face: {
    enabled: true,
    detector: { enabled: true, rotation: false, maxDetected: 5, skipFrames: 0, skipTime: 0 },
    mesh: { enabled: false },
    iris: { enabled: false },
    attention: { enabled: false },
    description: { enabled: false },
    antispoof: { enabled: false },
    liveness: { enabled: false },
    emotion: { enabled: true, skipFrames: 0, skipTime: 0 },
  },
});

const video = document.getElementById("video");
const ctx = document.getElementById("overlay").getContext("2d");
const results = document.getElementById("results");
let frame = 0, busy = false, first = true;

function draw(faces) {
  ctx.clearRect(0, 0, 640, 480);
  ctx.lineWidth = 3;
  ctx.strokeStyle = "#f5b800";
  ctx.font = "600 18px sans-serif";
  ctx.fillStyle = "#f5b800";
  for (const f of faces) {
    ctx.strokeRect(...f.box);
    if (f.emotion[0]) ctx.fillText(`${f.emotion[0].emotion} ${Math.round(f.emotion[0].score * 100)}%`, f.box[0], f.box[1] - 6);
  }
}

async function onFrame(now, metadata) {
  video.requestVideoFrameCallback(onFrame);
  if (busy) return;
  busy = true;
  const captured = metadata.captureTime || now;
  const t0 = performance.now();
  const res = await human.detect(video);
  const faces = res.face.filter((f) => f.emotion && f.emotion.length);
  const t1 = performance.now();
  draw(faces);
  frame += 1;
  results.textContent = JSON.stringify({
    frame, time_ms: t1 - t0, model: "human-emotion",
    faces: faces.map((f) => ({ box: f.box, emotion: f.emotion[0].emotion,
      scores: Object.fromEntries(f.emotion.map((e) => [e.emotion, e.score])) })),
    stages_ms: { detect_and_classify: t1 - t0, draw: performance.now() - t1 },
    latency_ms: performance.now() - captured,
    diagnostics: { tensors: human.tf.memory().numTensors, backend: human.tf.getBackend(),
      wasm_heap_bytes: human.tf.getBackend() === "wasm" ? human.tf.backend().wasm.HEAPU8.length : null },
  });
  if (first && faces.length) { first = false; performance.mark("moodlens:first-emotion"); }
  busy = false;
}

(async () => {
  await human.load();
  performance.mark("moodlens:models");
  await human.warmup();
  performance.mark("moodlens:warmup");
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  video.srcObject = stream;
  await video.play();
  document.body.dataset.state = "running";
  video.requestVideoFrameCallback(onFrame);
})().catch((e) => { document.body.dataset.state = "error"; results.textContent = String(e); });
