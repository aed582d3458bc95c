// Test only (served by moodlens_tools.engines.TestSite before worker.js, never shipped): what
// record.js records in the page, recorded in the app's worker (errors, unhandled rejections,
// console.error calls), with every URL the worker fetched (its resource timing). Asked for by
// the page's record.js (`window.__workerRecord()`) with a {__record: true} message.
(() => {
  const record = { errors: [], violations: [] };
  self.addEventListener("securitypolicyviolation", (e) => record.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  self.addEventListener("error", (e) => record.errors.push(`worker error: ${e.message}`));
  self.addEventListener("unhandledrejection", (e) => {
    record.errors.push(`worker unhandled rejection: ${e.reason && (e.reason.stack || e.reason.message) || e.reason}`);
  });
  const consoleError = console.error.bind(console);
  console.error = (...args) => {
    record.errors.push(args.map(String).join(" "));
    consoleError(...args);
  };
  self.addEventListener("message", ({ data }) => {
    if (data && data.__record) {
      const urls = performance.getEntriesByType("resource").map((e) => e.name);
      self.postMessage({ __record: { urls, errors: record.errors, violations: record.violations } });
    }
  });
})();
