// "Share" on the invoice page: hands the invoice PDF to the device's share sheet (Web Share
// API with files: WhatsApp, Telegram, Slack, Messenger, mail...). Where the browser cannot
// share files (most desktops), it downloads the PDF instead. Loaded as a file (the CSP forbids
// inline script); without script the button stays hidden and "Download PDF" remains.
(function () {
  "use strict";
  var button = document.querySelector("[data-share-pdf]");
  if (!button || !window.fetch || !window.Blob) return;
  var url = button.getAttribute("data-share-pdf");
  var name = button.getAttribute("data-share-name");
  var title = button.getAttribute("data-share-title");

  function download(blob) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
  }

  function canShareFiles(file) {
    try {
      return typeof navigator.share === "function" && typeof navigator.canShare === "function"
        && navigator.canShare({ files: [file] });
    } catch (error) {
      return false;
    }
  }

  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("PDF " + response.status);
        return response.blob();
      })
      .then(function (blob) {
        var file = typeof File === "function" ? new File([blob], name, { type: "application/pdf" }) : null;
        if (file && canShareFiles(file)) {
          // Dismissing the share sheet rejects with AbortError: nothing more to do then.
          return navigator.share({ files: [file], title: title }).catch(function (error) {
            if (!error || error.name !== "AbortError") download(blob);
          });
        }
        download(blob);
      })
      .catch(function () { window.location.href = url; })
      .then(function () { button.disabled = false; });
  });
})();
