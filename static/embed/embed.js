/* Invoice Portal embed loader: served at /embed.js (the server fills in PORTAL_ORIGIN).
 *
 *   <div id="invoice-portal"></div>
 *   <script src="https://portal.example.com/embed.js" async
 *           data-company="pub_..." data-customer="ada@example.com" data-hash="..."
 *           data-expires="1767225600" data-lang="de" data-container="invoice-portal"
 *           data-subscription="sub_..."></script>
 * data-customer is what the company identifies customers by: an email address, its own
 * external id, or the Stripe customer id (cus_...); data-subscription is optional.
 *
 * Mounts an iframe of /embed/<company> into the container, sizes it to its content, and hands
 * the frame's events (loaded, invoice_opened, pdf_downloaded, payment_started,
 * payment_succeeded, error) to the page's handleResponse(event). Messages are accepted only
 * from the portal's origin and only from the iframe this script created.
 */
(function () {
  "use strict";
  var PORTAL_ORIGIN = "__PORTAL_ORIGIN__";
  var SOURCE = "invoice-portal";
  var PREFIX = "[invoice-portal]";

  function truthy(value) {
    return value === "1" || value === "true" || value === "";
  }

  function findScripts() {
    if (document.currentScript && document.currentScript.getAttribute("data-company")) {
      return [document.currentScript];
    }
    // Fallback for loaders that run us outside the script tag's own execution.
    var found = [];
    var all = document.querySelectorAll("script[data-company]");
    for (var i = 0; i < all.length; i++) {
      if (/\/embed\.js(\?|$)/.test(all[i].src) && !all[i].getAttribute("data-mounted")) {
        found.push(all[i]);
      }
    }
    return found;
  }

  function handlerFor(script) {
    var name = script.getAttribute("data-handle-response") || "handleResponse";
    var fn = window[name];
    if (typeof fn !== "function" && window.InvoicePortal) fn = window.InvoicePortal.handleResponse;
    return typeof fn === "function" ? fn : null;
  }

  function mount(script) {
    script.setAttribute("data-mounted", "1");
    var debug = script.hasAttribute("data-debug") && truthy(script.getAttribute("data-debug"));
    function log() {
      if (!debug) return;
      var args = Array.prototype.slice.call(arguments);
      args.unshift(PREFIX);
      console.log.apply(console, args);
    }
    var data = function (name) { return script.getAttribute("data-" + name) || ""; };
    var containerId = data("container") || "invoice-portal";
    var container = document.getElementById(containerId);
    if (!container) {
      console.error(PREFIX, "no element with id \"" + containerId + "\" to mount the portal into");
      return;
    }
    if (!data("company")) {
      console.error(PREFIX, "data-company (your company's public key) is missing");
      return;
    }
    log("container found:", "#" + containerId);

    var params = new URLSearchParams();
    params.set("customer", data("customer"));
    if (data("hash")) params.set("hash", data("hash"));
    if (data("expires")) params.set("expires", data("expires"));
    if (data("lang")) params.set("lang", data("lang"));
    // A Stripe subscription (sub_…): the list shows its invoices only, unless the company
    // shows all customer invoices.
    if (data("subscription")) params.set("subscription", data("subscription"));
    if (debug) params.set("debug", "1");
    // The frame posts messages to this origin only, and only if the company allows it.
    params.set("origin", window.location.origin);
    if (!data("hash")) log("no data-hash: the portal will refuse this unless it is in test mode");

    var iframe = document.createElement("iframe");
    iframe.src = PORTAL_ORIGIN + "/embed/" + encodeURIComponent(data("company")) + "?" + params.toString();
    iframe.title = data("title") || "Invoices";
    iframe.style.width = "100%";
    iframe.style.border = "0";
    iframe.style.display = "block";
    iframe.style.height = (data("height") || "480") + "px";
    iframe.setAttribute("data-invoice-portal-frame", "");
    var heard = false;

    window.addEventListener("message", function (event) {
      if (event.origin !== PORTAL_ORIGIN || event.source !== iframe.contentWindow) return;
      var message = event.data;
      if (!message || message.source !== SOURCE) return;
      heard = true;
      if (message.kind === "hello") {
        if (message.debug && !debug) {
          debug = true;
          log("debug mode is on in the portal settings");
        }
        log("frame ready:", message.view || "");
      } else if (message.kind === "resize") {
        var height = Math.max(0, Math.ceil(Number(message.height) || 0));
        iframe.style.height = height + "px";
        log("resized the frame to", height + "px");
      } else if (message.kind === "event" && message.event) {
        log("event:", message.event.type, message.event);
        var handler = handlerFor(script);
        if (!handler) {
          log("no handleResponse function on this page; event not delivered");
          return;
        }
        try {
          handler(message.event);
        } catch (error) {
          console.error(PREFIX, "handleResponse threw", error);
        }
      }
    });

    container.appendChild(iframe);
    log("mounted", PORTAL_ORIGIN + "/embed/" + data("company"), "for", data("customer") || "(no customer)");
    window.setTimeout(function () {
      if (!heard) {
        console.warn(PREFIX, "the portal frame has not answered. Check data-company, and that " +
          window.location.origin + " is among the allowed origins in the portal's embed settings " +
          "(otherwise the browser refuses to show the frame: see frame-ancestors in the console).");
      }
    }, 10000);
  }

  var scripts = findScripts();
  for (var i = 0; i < scripts.length; i++) mount(scripts[i]);
})();
