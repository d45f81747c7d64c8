// Live refresh: every element marked data-refresh gets a "vc:refresh" event (its hx-trigger)
// every few seconds while the tab is visible, and at once when the tab is shown again. A refresh
// waits while any htmx request is in flight, and one sent before an action is dropped when it
// comes back after it: it never overwrites the answer to an action with older news.
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

  var lastAction = 0;
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var element = event.detail.elt;
    if (element.hasAttribute("data-refresh")) {
      element.vcSentAt = Date.now();
    } else {
      lastAction = Date.now();
    }
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var element = event.detail.elt;
    if (element.hasAttribute("data-refresh") && element.vcSentAt <= lastAction) {
      event.detail.shouldSwap = false;
    }
  });

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
