/* Inside the embed frame: size the host's iframe to this page, post the page's events to the
 * host (only to the allowed origin it was opened from, never "*"), mark PDF downloads and
 * payments, and log each step when debug is on. Settings come from #embed-config. */
(function () {
  "use strict";
  var SOURCE = "invoice-portal";
  var PREFIX = "[invoice-portal frame]";
  var node = document.getElementById("embed-config");
  if (!node) return;
  var config = JSON.parse(node.textContent);
  var target = config.parentOrigin;
  var framed = window.parent !== window;

  function log() {
    if (!config.debug) return;
    var args = Array.prototype.slice.call(arguments);
    args.unshift(PREFIX);
    console.log.apply(console, args);
  }

  function post(message) {
    if (!framed) return;
    if (!target) {
      log("not posting", message.kind, "- this page's origin was not passed or is not among " +
        "the allowed origins:", config.allowedOrigins);
      return;
    }
    message.source = SOURCE;
    window.parent.postMessage(message, target);
  }

  function emit(event) {
    if (!config.handleResponse) {
      log("event", event.type, "(handleResponse is off in the portal settings, not posted)");
      return;
    }
    log("posting event", event.type, event);
    post({ kind: "event", event: event });
  }

  post({ kind: "hello", debug: config.debug, view: document.title });
  log("page loaded:", document.title);

  var lastHeight = 0;
  function resize() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      post({ kind: "resize", height: height });
      log("content height", height);
    }
  }
  resize();
  if (window.ResizeObserver) new ResizeObserver(resize).observe(document.documentElement);
  window.addEventListener("load", resize);

  for (var i = 0; i < config.events.length; i++) emit(config.events[i]);

  var pdfLinks = document.querySelectorAll("[data-embed-pdf]");
  for (var j = 0; j < pdfLinks.length; j++) {
    pdfLinks[j].addEventListener("click", function () {
      emit({ type: "pdf_downloaded", invoice: this.getAttribute("data-embed-pdf") });
    });
  }

  function watchPayment(invoice) {
    // Checkout runs in another tab; ask the portal until the payment is recorded.
    var started = Date.now();
    var timer = window.setInterval(function () {
      if (Date.now() - started > 30 * 60 * 1000) {
        window.clearInterval(timer);
        log("stopped waiting for the payment of", invoice);
        return;
      }
      fetch(config.statusUrl, { credentials: "omit", cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (status) {
          if (!status) return;
          log("payment status", status);
          if (status.status === "paid" || status.amount_paid > config.amountPaid) {
            window.clearInterval(timer);
            config.amountPaid = status.amount_paid;
            var notice = document.querySelector("[data-embed-paid]");
            if (notice) notice.hidden = false;
            emit({ type: "payment_succeeded", invoice: invoice, status: status.status,
                   amount_paid: status.amount_paid });
            // Show the invoice as it is now (paid, new amount due), with a thank-you note.
            var url = new URL(window.location.href);
            url.searchParams.set("paid", "1");
            window.setTimeout(function () { window.location.replace(url.toString()); }, 500);
          }
        })
        .catch(function (error) { log("status check failed", error); });
    }, 3000);
  }

  function watchInvoices(invoices) {
    // Several invoices paid in one Checkout (another tab): once each is paid, invoices_paid.
    var started = Date.now();
    var timer = window.setInterval(function () {
      if (Date.now() - started > 30 * 60 * 1000) {
        window.clearInterval(timer);
        return;
      }
      Promise.all(invoices.map(function (invoice) {
        var url = config.statusBase + encodeURIComponent(invoice) + "/status?" + config.statusQuery;
        return fetch(url, { credentials: "omit", cache: "no-store" })
          .then(function (response) { return response.ok ? response.json() : null; });
      })).then(function (statuses) {
        for (var i = 0; i < statuses.length; i++) {
          if (!statuses[i] || statuses[i].status !== "paid") return;
        }
        window.clearInterval(timer);
        emit({ type: "invoices_paid", invoices: invoices });
        window.setTimeout(function () { window.location.reload(); }, 500);
      }).catch(function (error) { log("status check failed", error); });
    }, 3000);
  }

  var multiForms = document.querySelectorAll("[data-embed-pay-invoices]");
  for (var m = 0; m < multiForms.length; m++) {
    multiForms[m].addEventListener("submit", function () {
      var inputs = this.querySelectorAll("input[name=invoice]");
      var invoices = [];
      for (var n = 0; n < inputs.length; n++) invoices.push(inputs[n].value);
      emit({ type: "payment_started", invoices: invoices });
      if (config.statusBase) watchInvoices(invoices);
    });
  }

  var payForms = document.querySelectorAll("[data-embed-pay]");
  for (var k = 0; k < payForms.length; k++) {
    payForms[k].addEventListener("submit", function () {
      var invoice = this.getAttribute("data-embed-pay");
      emit({ type: "payment_started", invoice: invoice });
      if (config.statusUrl) watchPayment(invoice);
    });
  }
})();
