// Test only (served by moodlens_tools.engines.TestSite, never shipped). Records, from the first
// moment, what an engine's driver may not report by itself: Content-Security-Policy violations,
// uncaught errors, unhandled rejections and console.error calls. Read as window.__record.
(() => {
  const record = (window.__record = { violations: [], errors: [] });
  addEventListener("securitypolicyviolation", (e) => {
    record.violations.push(`${e.violatedDirective} ${e.blockedURI}`);
  });
  addEventListener("error", (e) => {
    if (e.target === window) record.errors.push(`error: ${e.message}`);
  });
  addEventListener("unhandledrejection", (e) => {
    record.errors.push(`unhandled rejection: ${e.reason && (e.reason.stack || e.reason.message) || e.reason}`);
  });
  // The app's worker records the same (worker-record.js): asked for, and answered, by message.
  window.__workerRecord = () => new Promise((resolve) => {
    const worker = window.moodlensWorker;
    if (!worker) return resolve({ urls: [], errors: ["no worker was started"], violations: [] });
    const listener = ({ data }) => {
      if (data && data.__record) { worker.removeEventListener("message", listener); resolve(data.__record); }
    };
    worker.addEventListener("message", listener);
    worker.postMessage({ __record: true });
  });
  const consoleError = console.error.bind(console);
  console.error = (...args) => {
    record.errors.push(args.map(String).join(" "));
    consoleError(...args);
  };
})();
