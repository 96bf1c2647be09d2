// "Pay selected (n) — total" follows the ticked invoices. Without this script the button shows
// the server's count and total for the first state and the server checks whatever is sent.
(function () {
  "use strict";
  var forms = document.querySelectorAll("[data-pay-selected]");
  function minorUnits(text) {
    // "12.50" -> {units: 1250, places: 2}: exact integers, never floats for money.
    var parts = text.split(".");
    var places = parts.length > 1 ? parts[1].length : 0;
    return { units: parseInt(parts.join(""), 10), places: places };
  }
  function update(form) {
    var boxes = form.querySelectorAll("input[name=invoice]");
    var count = 0, total = 0, places = 0, currency = "";
    for (var i = 0; i < boxes.length; i++) {
      if (!boxes[i].checked) continue;
      var amount = minorUnits(boxes[i].getAttribute("data-amount"));
      count += 1;
      total += amount.units;
      places = amount.places;
      currency = currency || boxes[i].getAttribute("data-currency");
    }
    var button = form.querySelector("button[type=submit]");
    var label = form.getAttribute("data-label") + " (" + count + ")";
    if (count && currency) {
      var formatted = new Intl.NumberFormat(form.getAttribute("data-locale"), {
        style: "currency", currency: currency.toUpperCase(),
        minimumFractionDigits: places, maximumFractionDigits: places
      }).format(total / Math.pow(10, places));
      label += " — " + formatted;
    }
    button.textContent = label;
    button.disabled = count === 0;
  }
  for (var i = 0; i < forms.length; i++) {
    (function (form) {
      form.addEventListener("change", function () { update(form); });
      update(form);
    })(forms[i]);
  }
})();
