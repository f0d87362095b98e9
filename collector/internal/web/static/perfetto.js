// Open in Perfetto: fetch the capture's trimmed trace from this collector
// and hand it to the Perfetto UI in another tab with its documented
// postMessage handshake (PING until PONG, then {perfetto: {buffer, title}}).
// The trace goes from this page to the Perfetto tab inside the browser;
// nothing is uploaded anywhere.
(function () {
  "use strict";
  var button = document.getElementById("open-perfetto");
  var status = document.getElementById("perfetto-status");
  if (!button) {
    return;
  }
  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }
  button.addEventListener("click", function (ev) {
    ev.preventDefault();
    var ui = button.dataset.ui;
    var origin = new URL(ui).origin;
    // Open the tab now, while the click counts as a user gesture.
    var win = window.open(ui);
    if (!win) {
      say("The browser blocked the Perfetto tab: allow pop-ups for this page, or download the trace and open it in Perfetto.");
      return;
    }
    say("Fetching the trace…");
    fetch(button.dataset.trace, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) {
          throw new Error("the collector answered " + r.status);
        }
        return r.arrayBuffer();
      })
      .then(function (buffer) {
        say("Waiting for Perfetto to load…");
        var tries = 0;
        var timer = setInterval(function () {
          if (++tries > 600) { // 30 s
            clearInterval(timer);
            window.removeEventListener("message", onMessage);
            say("Perfetto did not answer: download the trace and open it there.");
            return;
          }
          win.postMessage("PING", origin);
        }, 50);
        function onMessage(e) {
          if (e.origin !== origin || e.data !== "PONG") {
            return;
          }
          clearInterval(timer);
          window.removeEventListener("message", onMessage);
          win.postMessage({ perfetto: { buffer: buffer, title: button.dataset.title, fileName: button.dataset.title + ".trace.json.gz" } }, origin);
          say("Sent to Perfetto (" + buffer.byteLength + " bytes).");
        }
        window.addEventListener("message", onMessage);
      })
      .catch(function (err) {
        say("Could not open in Perfetto: " + err.message);
      });
  });
})();
