// Live / PDF preview switch on the invoice page. Loaded as a file (the CSP forbids inline
// script); without it the "PDF preview" link simply opens the PDF.
(function () {
  "use strict";
  var group = document.querySelector("[data-preview-switch]");
  if (!group) return;
  var live = document.getElementById("live");
  var pdf = document.querySelector("[data-preview-pdf]");
  var frame = pdf && pdf.querySelector("iframe");
  var options = group.querySelectorAll("[data-preview]");
  function show(which) {
    live.hidden = which !== "live";
    pdf.hidden = which !== "pdf";
    if (which === "pdf" && !frame.getAttribute("src")) {
      // Loaded on demand: most visitors never open the PDF preview.
      frame.setAttribute("src", group.querySelector("[data-pdf-src]").getAttribute("data-pdf-src"));
    }
    for (var i = 0; i < options.length; i++) {
      var current = options[i].getAttribute("data-preview") === which;
      if (current) options[i].setAttribute("aria-current", "true");
      else options[i].removeAttribute("aria-current");
    }
  }
  for (var i = 0; i < options.length; i++) {
    options[i].addEventListener("click", function (event) {
      event.preventDefault();
      show(this.getAttribute("data-preview"));
    });
  }
})();
