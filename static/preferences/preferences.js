// Email preferences: save each switch at once through PATCH /preferences/<token>.json.
// Without this script the page is a plain form with a save button (progressive enhancement).
(function () {
  "use strict";
  var form = document.querySelector("[data-prefs-form]");
  if (!form || !window.fetch) { return; }
  var status = form.querySelector("[data-prefs-status]");
  var url = window.location.pathname + ".json";
  var boxes = form.querySelectorAll("input[type=checkbox]");

  function say(message, isError) {
    status.textContent = message;
    status.classList.toggle("is-error", Boolean(isError));
  }

  function apply(prefs) {
    boxes.forEach(function (box) {
      if (typeof prefs[box.name] === "boolean") { box.checked = prefs[box.name]; }
    });
  }

  function save(changes) {
    say(form.dataset.msgSaving);
    return fetch(url, {
      method: "PATCH",
      credentials: "omit",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(changes)
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (prefs) {
      apply(prefs);
      say(form.dataset.msgSaved);
    }).catch(function () {
      say(form.dataset.msgError, true);
    });
  }

  form.classList.add("is-live");
  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      var changes = {};
      changes[box.name] = box.checked;
      save(changes);
    });
  });
  form.querySelector("[data-prefs-all]").addEventListener("click", function (event) {
    event.preventDefault();
    var changes = {};
    boxes.forEach(function (box) { changes[box.name] = false; });
    save(changes);
  });
})();
