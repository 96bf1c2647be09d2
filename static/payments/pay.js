/* The card on the invoice page: create a PaymentIntent on our server for the amount in the pay
   form, confirm it with Stripe.js in the browser, then poll our server (which asks Stripe)
   until the payment has succeeded or failed. No inline script: loaded with the CSP nonce. */
(function () {
  "use strict";
  var box = document.querySelector("[data-pay-card]");
  var form = document.querySelector("[data-pay-form]");
  if (!box || !form || typeof window.Stripe !== "function") { return; }

  var stripe = window.Stripe(box.getAttribute("data-publishable-key"));
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var button = document.getElementById("card-pay-button");
  var errorBox = document.getElementById("card-error");
  var statusBox = document.getElementById("card-status");

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }
  function showStatus(message) { statusBox.textContent = message || ""; }

  function amountField() { return form.querySelector("[name=amount]"); }

  function poll(url, tries) {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.error) { showError(body.error.message); button.disabled = false; return; }
        showStatus(body.message);
        if (body.state === "succeeded") {
          box.setAttribute("data-state", "succeeded");
          statusBox.classList.add("pay-status-success");
          // The amount due in the heading changes at once; the reload then shows the
          // server's account of it (paid on, the receipt).
          var due = document.querySelector("[data-testid=summary-amount-due]");
          if (due && body.amount_due_display) { due.textContent = body.amount_due_display; }
          window.setTimeout(function () { window.location.reload(); }, 2500);
        } else if (body.state === "failed" || body.state === "expired") {
          showError(body.message); button.disabled = false;
        } else if (tries > 0) {
          window.setTimeout(function () { poll(url, tries - 1); }, 1000);
        }
      })
      .catch(function () { if (tries > 0) { window.setTimeout(function () { poll(url, tries - 1); }, 2000); } });
  }

  button.addEventListener("click", function () {
    showError(""); showStatus("");
    button.disabled = true;
    var data = new FormData();
    data.append("amount", amountField() ? amountField().value : "");
    fetch(form.getAttribute("data-card-url"), { method: "POST", body: data, credentials: "omit" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body.error) { showError(body.error.message); button.disabled = false; return null; }
        return stripe.confirmCardPayment(body.client_secret, { payment_method: { card: card } })
          .then(function (result) {
            if (result.error) { showError(result.error.message); button.disabled = false; return; }
            showStatus(box.getAttribute("data-processing"));
            poll(body.status_url, 90);
          });
      })
      .catch(function () { showError(box.getAttribute("data-network-error")); button.disabled = false; });
  });
}());
