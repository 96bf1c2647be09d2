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
