// The account pages: the "Download PDFs (ZIP)" button shows progress while the ZIP is made
// and downloaded. Loaded as a file (the CSP forbids inline script); without it the button is
// a plain link to the same ZIP.
(function () {
  "use strict";
  var button = document.querySelector("[data-zip-download]");
  if (!button || !window.fetch || !window.URL || !window.Blob) return;
  var status = document.querySelector("[data-zip-status]");
  var label = button.textContent;
  var busy = false;

  function say(text) {
    if (status) status.textContent = text;
  }
  function done() {
    busy = false;
    button.textContent = label;
    button.removeAttribute("aria-busy");
    button.removeAttribute("aria-disabled");
  }
  function save(blob) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = "invoices.zip";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }
  function read(response) {
    var total = parseInt(response.headers.get("Content-Length") || "0", 10);
    if (!response.body || !response.body.getReader || !total) return response.blob();
    var reader = response.body.getReader();
    var chunks = [];
    var received = 0;
    function pump() {
      return reader.read().then(function (step) {
        if (step.done) return new Blob(chunks, { type: "application/zip" });
        chunks.push(step.value);
        received += step.value.length;
        var percent = Math.min(100, Math.floor((received * 100) / total));
        button.textContent = button.getAttribute("data-progress") + " " + percent + " %";
        return pump();
      });
    }
    return pump();
  }

  button.addEventListener("click", function (event) {
    event.preventDefault();
    if (busy) return;
    busy = true;
    button.setAttribute("aria-busy", "true");
    button.setAttribute("aria-disabled", "true");
    button.textContent = button.getAttribute("data-preparing");
    say(button.getAttribute("data-preparing"));
    fetch(button.getAttribute("href"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          // The server's own message (a 400 names what to change).
          return response.text().then(function (html) {
            var page = new DOMParser().parseFromString(html, "text/html");
            var alert = page.querySelector("[data-testid=filter-error] p");
            throw new Error(alert ? alert.textContent : button.getAttribute("data-failed"));
          });
        }
        return read(response);
      })
      .then(function (blob) {
        save(blob);
        say("");
        done();
      })
      .catch(function (error) {
        say(error && error.message ? error.message : button.getAttribute("data-failed"));
        done();
      });
  });
})();
