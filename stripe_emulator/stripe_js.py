"""A stand-in for Stripe.js, served at ``/v3/stripe.js`` (and ``/v3/``), for offline browsers.

It implements the slice of Stripe.js our pages use, with the same names and result shapes::

    const stripe = Stripe("pk_test_demo");            // the account of sk_test_demo
    const elements = stripe.elements({clientSecret});  // clientSecret optional
    const card = elements.create("card");              // or "payment"
    card.mount("#card-element");                       // a selector or an element
    card.on("change", (e) => { e.complete; e.empty; e.error; e.brand; });
    // -> {paymentIntent} or {error: {type, code, decline_code, message, payment_intent}}
    await stripe.confirmCardPayment(clientSecret, {payment_method: {card}});
    await stripe.confirmPayment({elements, clientSecret, redirect: "if_required",
                                 confirmParams: {return_url}});
    await stripe.retrievePaymentIntent(clientSecret);  // -> {paymentIntent} or {error}

``mount`` renders one text input (``data-testid="card-number"``, class
``StripeElement-input``) into the container, without a ``name`` attribute, so the card
number never travels with the page's own form: only to the emulator, which answers CORS.
Requests go to the origin the script was loaded from, with the publishable key and client
secret as form fields (a "simple" CORS request, so no preflight is needed).
"""

from __future__ import annotations

from .wire import Request, Response

PATHS = frozenset({"/v3", "/v3/", "/v3/stripe.js"})

SOURCE = r"""/* Stripe.js stand-in served by the local Stripe emulator. Not the real Stripe.js. */
(function () {
  "use strict";
  var script = document.currentScript;
  var ORIGIN = script && script.src ? new URL(script.src).origin : window.location.origin;

  function digits(value) { return String(value || "").replace(/\D/g, ""); }

  function luhnOk(number) {
    var total = 0;
    for (var i = 0; i < number.length; i++) {
      var digit = Number(number.charAt(number.length - 1 - i));
      if (i % 2) { digit = digit * 2; if (digit > 9) { digit -= 9; } }
      total += digit;
    }
    return total % 10 === 0;
  }

  function brandOf(number) {
    if (/^4/.test(number)) { return "visa"; }
    if (/^(5[1-5]|2[2-7])/.test(number)) { return "mastercard"; }
    if (/^3[47]/.test(number)) { return "amex"; }
    return "unknown";
  }

  function validationError(code, message) {
    return { type: "validation_error", code: code, message: message };
  }

  function StripeElement(elements, type, options) {
    this._elements = elements;
    this._type = type;
    this._options = options || {};
    this._handlers = {};
    this._input = null;
    this._container = null;
  }

  StripeElement.prototype.mount = function (target) {
    var container = typeof target === "string" ? document.querySelector(target) : target;
    if (!container) {
      throw new Error("IntegrationError: no element matches " + String(target));
    }
    var input = document.createElement("input");
    input.type = "text";
    input.inputMode = "numeric";
    input.autocomplete = "cc-number";
    input.placeholder = "Card number";
    input.className = "StripeElement-input";
    input.setAttribute("aria-label", "Card number");
    input.setAttribute("data-testid", "card-number");
    input.style.width = "100%";
    var self = this;
    input.addEventListener("input", function () { self._emit("change", self._state()); });
    input.addEventListener("focus", function () { self._emit("focus", { elementType: self._type }); });
    input.addEventListener("blur", function () { self._emit("blur", { elementType: self._type }); });
    container.innerHTML = "";
    container.classList.add("StripeElement");
    container.appendChild(input);
    this._container = container;
    this._input = input;
    setTimeout(function () { self._emit("ready", { elementType: self._type }); }, 0);
  };

  StripeElement.prototype.on = function (name, handler) {
    (this._handlers[name] = this._handlers[name] || []).push(handler);
    return this;
  };

  StripeElement.prototype.off = function (name, handler) {
    var list = this._handlers[name] || [];
    this._handlers[name] = handler ? list.filter(function (h) { return h !== handler; }) : [];
    return this;
  };

  StripeElement.prototype._emit = function (name, event) {
    (this._handlers[name] || []).forEach(function (handler) { handler(event); });
  };

  StripeElement.prototype._state = function () {
    var number = digits(this._input ? this._input.value : "");
    var full = number.length >= 16 || (number.length === 15 && brandOf(number) === "amex");
    var complete = full && luhnOk(number);
    var error;
    if (full && !complete) {
      error = validationError("invalid_number", "Your card number is invalid.");
    }
    return {
      elementType: this._type,
      empty: number.length === 0,
      complete: complete,
      error: error,
      brand: brandOf(number),
      value: { type: "card" },
      _number: number
    };
  };

  StripeElement.prototype._check = function () {
    var state = this._state();
    if (state.empty || (!state.complete && !state.error)) {
      return { error: validationError("incomplete_number", "Your card number is incomplete.") };
    }
    if (state.error) { return { error: state.error }; }
    return { number: state._number };
  };

  StripeElement.prototype.focus = function () { if (this._input) { this._input.focus(); } };
  StripeElement.prototype.blur = function () { if (this._input) { this._input.blur(); } };
  StripeElement.prototype.clear = function () { if (this._input) { this._input.value = ""; } };
  StripeElement.prototype.update = function (options) {
    for (var key in options) { this._options[key] = options[key]; }
  };
  StripeElement.prototype.unmount = function () {
    if (this._container && this._input) { this._container.removeChild(this._input); }
    this._input = null;
    this._container = null;
  };
  StripeElement.prototype.destroy = function () {
    this.unmount();
    this._elements._elements = this._elements._elements.filter(function (e) { return e !== this; }, this);
  };

  function Elements(stripe, options) {
    this._stripe = stripe;
    this._options = options || {};
    this._clientSecret = this._options.clientSecret;
    this._elements = [];
  }

  Elements.prototype.create = function (type, options) {
    if (["card", "cardNumber", "payment"].indexOf(type) < 0) {
      throw new Error("IntegrationError: the emulator's Stripe.js supports card and payment elements only");
    }
    var element = new StripeElement(this, type, options);
    this._elements.push(element);
    return element;
  };

  Elements.prototype.getElement = function (type) {
    return this._elements.filter(function (e) { return e._type === type; })[0] || null;
  };

  Elements.prototype.update = function (options) {
    for (var key in options) { this._options[key] = options[key]; }
    if (options.clientSecret) { this._clientSecret = options.clientSecret; }
  };

  Elements.prototype.submit = function () {
    var element = this._elements[0];
    var checked = element ? element._check() : { error: validationError("incomplete", "No element is mounted.") };
    return Promise.resolve(checked.error ? { error: checked.error } : {});
  };

  function Stripe(publishableKey, options) {
    if (!(this instanceof Stripe)) { return new Stripe(publishableKey, options); }
    if (!/^pk_test_[A-Za-z0-9_]+$/.test(String(publishableKey))) {
      throw new Error("IntegrationError: Invalid value for Stripe(): apiKey should be a pk_test_ key.");
    }
    this._key = publishableKey;
    this._options = options || {};
  }

  Stripe.prototype.elements = function (options) { return new Elements(this, options); };

  function intentId(clientSecret) {
    var match = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(String(clientSecret || ""));
    return match ? match[1] : null;
  }

  function badSecret() {
    return Promise.resolve({ error: {
      type: "invalid_request_error",
      code: "parameter_invalid",
      message: "Invalid value for clientSecret: it should be a PaymentIntent client secret."
    } });
  }

  Stripe.prototype._call = function (method, path, fields) {
    var body = new URLSearchParams();
    body.append("key", this._key);
    for (var name in fields) {
      if (fields[name] !== undefined && fields[name] !== null) { body.append(name, fields[name]); }
    }
    var request = method === "GET"
      ? fetch(ORIGIN + path + "?" + body.toString(), { method: "GET" })
      : fetch(ORIGIN + path, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: body.toString()
        });
    return request
      .then(function (response) { return response.json(); })
      .then(function (data) {
        return data.error ? { error: data.error } : { paymentIntent: data };
      })
      .catch(function (err) {
        return { error: {
          type: "api_connection_error",
          message: "Could not reach the Stripe emulator: " + String(err)
        } };
      });
  };

  Stripe.prototype._confirm = function (clientSecret, fields) {
    var id = intentId(clientSecret);
    if (!id) { return badSecret(); }
    fields.client_secret = clientSecret;
    return this._call("POST", "/v1/payment_intents/" + id + "/confirm", fields);
  };

  Stripe.prototype.retrievePaymentIntent = function (clientSecret) {
    var id = intentId(clientSecret);
    if (!id) { return badSecret(); }
    return this._call("GET", "/v1/payment_intents/" + id, { client_secret: clientSecret });
  };

  function cardFields(element) {
    var checked = element._check();
    if (checked.error) { return checked; }
    return { fields: {
      "payment_method_data[type]": "card",
      "payment_method_data[card][number]": checked.number
    } };
  }

  Stripe.prototype.confirmCardPayment = function (clientSecret, data) {
    data = data || {};
    var method = data.payment_method;
    var fields = {};
    if (typeof method === "string") {
      fields.payment_method = method;
    } else if (method && method.card) {
      var built = cardFields(method.card);
      if (built.error) { return Promise.resolve({ error: built.error }); }
      fields = built.fields;
    }
    if (data.receipt_email) { fields.receipt_email = data.receipt_email; }
    return this._confirm(clientSecret, fields);
  };

  Stripe.prototype.confirmPayment = function (options) {
    options = options || {};
    var elements = options.elements;
    var clientSecret = options.clientSecret || (elements && elements._clientSecret);
    var element = elements && (elements.getElement("payment") || elements._elements[0]);
    if (!element) {
      return Promise.resolve({ error: validationError("incomplete", "No element is mounted.") });
    }
    var built = cardFields(element);
    if (built.error) { return Promise.resolve({ error: built.error }); }
    var params = options.confirmParams || {};
    if (params.receipt_email) { built.fields.receipt_email = params.receipt_email; }
    var redirect = options.redirect || "always";
    return this._confirm(clientSecret, built.fields).then(function (result) {
      if (result.error || redirect === "if_required") { return result; }
      if (!params.return_url) {
        return { error: { type: "invalid_request_error", message: "confirmParams.return_url is required." } };
      }
      var url = new URL(params.return_url, window.location.href);
      url.searchParams.set("payment_intent", result.paymentIntent.id);
      url.searchParams.set("payment_intent_client_secret", clientSecret);
      url.searchParams.set("redirect_status", result.paymentIntent.status);
      window.location.assign(url.toString());
      return result;
    });
  };

  window.Stripe = Stripe;
})();
"""


def handle(request: Request) -> Response | None:
    if request.path not in PATHS or request.method != "GET":
        return None
    return Response(
        200,
        SOURCE.encode(),
        "application/javascript; charset=utf-8",
        {"Cache-Control": "no-cache"},
    )
