// Live refresh: every element marked data-refresh gets a "vc:refresh" event (its hx-trigger)
// every few seconds while the tab is visible, and at once when the tab is shown again. A refresh
// waits while any htmx request is in flight, so it never overwrites the answer to an action.
(function () {
  "use strict";
  var every = parseInt(document.body.getAttribute("data-refresh-ms"), 10) || 3000;
  var timer = null;

  function refresh() {
    if (document.hidden || document.querySelector(".htmx-request")) {
      return;
    }
    document.querySelectorAll("[data-refresh]").forEach(function (element) {
      htmx.trigger(element, "vc:refresh");
    });
  }

  function start() {
    if (timer === null && document.querySelector("[data-refresh]")) {
      timer = window.setInterval(refresh, every);
    }
  }

  function stop() {
    if (timer !== null) {
      window.clearInterval(timer);
      timer = null;
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      stop();
    } else {
      refresh();
      start();
    }
  });
  start();
})();
