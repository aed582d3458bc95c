// Test only (served by moodlens_tools.engines.TestSite, never shipped). Stands in for the camera
// device where an engine's own fake camera shows a test pattern instead of a face:
// getUserMedia answers with a real MediaStream, canvas.captureStream(), of a canvas that redraws
// a real photo every animation frame. Everything after getUserMedia (the video element, the
// frame grab, the pipeline, the drawing) is the page's own.
//   camera.js?photo=URL&fps=N    a camera showing that picture at N frames a second (default 30)
//   camera.js?reject=NAME        getUserMedia rejects with DOMException NAME (a refused permission)
(() => {
  const params = new URL(document.currentScript.src).searchParams;
  if (!window.MediaDevices) return;
  const calls = (window.__camera = { calls: 0 });
  // On the prototype: WebKit may collect navigator.mediaDevices's wrapper, and with it a
  // function set on the instance, and hand out a fresh one later.
  MediaDevices.prototype.getUserMedia = async function (constraints) {
    calls.calls += 1;
    if (params.get("reject")) throw new DOMException("The request is not allowed.", params.get("reject"));
    const image = new Image();
    image.src = params.get("photo");
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d");
    const fps = Number(params.get("fps") || 30);
    const stream = canvas.captureStream(fps);
    // A new frame every 1/fps s, no more: each draw costs the engine a canvas upload.
    let next = 0;
    const draw = (now) => {
      if (!(now < next)) {
        context.drawImage(image, 0, 0);
        next = (now || 0) + 1000 / fps - 4;
      }
      if (stream.getVideoTracks().some((t) => t.readyState === "live")) requestAnimationFrame(draw);
    };
    draw();
    return stream;
  };
})();
