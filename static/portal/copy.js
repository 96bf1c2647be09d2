// "Copy" buttons beside the bank-transfer details (IBAN, BIC, reference). Loaded as a file (the
// CSP forbids inline script); without script, or without a clipboard, the buttons stay hidden
// and the values remain plain text to select.
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) return;
  var status = document.querySelector("[data-copy-status]");
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
        if (status) {
          status.textContent = "";
          status.textContent = status.getAttribute("data-copied-text") || "\u2713";
        }
        button.setAttribute("data-copied", "true");
      });
    });
  });
})();
