// "Pay selected (n) — total" follows the ticked invoices (checkboxes inside the form or tied to
// it by their form attribute). Without this script the button shows what the server rendered,
// and the server checks whatever is sent. Amounts are added up as integers (minor units).
(function () {
  "use strict";
  var forms = document.querySelectorAll("[data-pay-selected]");
  function digits(currency, locale) {
    try {
      return new Intl.NumberFormat(locale, { style: "currency", currency: currency })
        .resolvedOptions().maximumFractionDigits;
    } catch (error) {
      return 2;
    }
  }
  function update(form) {
    var boxes = form.elements;
    var count = 0, total = 0, currency = "", mixed = false;
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      if (box.name !== "invoice" || box.type !== "checkbox" || !box.checked) continue;
      count += 1;
      total += parseInt(box.getAttribute("data-amount-minor"), 10) || 0;
      var code = (box.getAttribute("data-currency") || "").toUpperCase();
      if (currency && code !== currency) mixed = true;
      currency = currency || code;
    }
    var button = form.querySelector("button[type=submit]");
    var label = form.getAttribute("data-label") + " (" + count + ")";
    if (count && currency && !mixed) {
      var locale = form.getAttribute("data-locale") || undefined;
      var places = digits(currency, locale);
      label += " — " + new Intl.NumberFormat(locale, {
        style: "currency", currency: currency,
        minimumFractionDigits: places, maximumFractionDigits: places
      }).format(total / Math.pow(10, places));
    }
    button.textContent = label;
  }
  for (var i = 0; i < forms.length; i++) {
    (function (form) {
      var id = form.id;
      document.addEventListener("change", function (event) {
        var target = event.target;
        if (target && target.name === "invoice" && (form.contains(target) || (id && target.getAttribute("form") === id))) {
          update(form);
        }
      });
      update(form);
    })(forms[i]);
  }
})();
