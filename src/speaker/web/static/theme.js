// Loaded as a classic, blocking script in <head> so the remembered theme applies before the
// first paint (no flash of the wrong colours); the page's CSP forbids inline scripts.
(function () {
  try {
    var theme = localStorage.getItem("speaker.theme");
    if (theme === "light" || theme === "dark") {
      document.documentElement.dataset.theme = theme;
    }
  } catch {
    // Storage can be off (private mode, policies): the system's preference applies.
  }
})();
