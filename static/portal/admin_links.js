// "Copy" next to a share link in the admin (a file: the CSP forbids inline script).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".share-link-copy");
    if (!button) return;
    event.preventDefault();
    var url = button.getAttribute("data-copy-url");
    var done = function () { button.textContent = button.getAttribute("data-copied") || "\u2713"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(done);
    } else {
      var input = button.parentNode.querySelector(".share-link-url");
      input.select();
      document.execCommand("copy");
      done();
    }
  });
})();

// "Revoke" asks first: the old link stops opening at once.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
});

// "Share PDF": hand the rendered PDF to the device's share sheet where the browser can share
// files (Web Share API level 2); elsewhere the link downloads the PDF as it is.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest(".share-pdf");
  if (!link) return;
  var name = link.getAttribute("data-filename") || "invoice.pdf";
  var probe;
  try { probe = new File([""], name, { type: "application/pdf" }); } catch (e) { return; }
  if (!navigator.canShare || !navigator.share || !navigator.canShare({ files: [probe] })) return;
  event.preventDefault();
  fetch(link.href, { credentials: "same-origin" })
    .then(function (response) { return response.blob(); })
    .then(function (blob) {
      var file = new File([blob], name, { type: "application/pdf" });
      return navigator.share({ files: [file], title: name });
    })
    .catch(function (error) {
      if (error && error.name === "AbortError") return; // the person closed the share sheet
      window.location.href = link.href;
    });
});
