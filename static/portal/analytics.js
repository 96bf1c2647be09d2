// The company's analytics (Google Analytics 4 or Plausible), loaded with the page's nonce.
// Customer pages are opened by secret links: the page view is reported with every token in
// the address replaced, so no analytics service ever receives a usable link.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var kind = script.getAttribute("data-analytics");
  var id = script.getAttribute("data-analytics-id");
  var tokenPaths = /^\/(invoice|portal|preferences|unsubscribe|sign-in|pay)\/[^/]+/;
  var path = window.location.pathname.replace(tokenPaths, "/$1/:token");
  var url = window.location.origin + path;
  if (kind === "ga4") {
    window.dataLayer = window.dataLayer || [];
    var gtag = function () {
      window.dataLayer.push(arguments);
    };
    gtag("js", new Date());
    gtag("config", id, { page_location: url, page_referrer: "" });
  } else if (kind === "plausible") {
    window.plausible =
      window.plausible ||
      function () {
        (window.plausible.q = window.plausible.q || []).push(arguments);
      };
    window.plausible("pageview", { u: url });
  }
})();
