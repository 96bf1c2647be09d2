/* The invoice comment thread: live updates over server-sent events, polling `?after=<id>` when
 * EventSource is missing or the stream fails; posting, code verification and authenticator
 * enrolment through JSON. Comments are plain text: built with textContent, and only http(s)
 * URLs become links (rel="nofollow noopener noreferrer"). No inline script, no innerHTML. */
(function () {
  "use strict";

  var root = document.querySelector("[data-comments]");
  if (!root) return;

  var POLL_MS = 1000;
  var STORE_KEY = "invoice-comments.writer";
  var baseUrl = root.getAttribute("data-base-url");
  var streamUrl = root.getAttribute("data-stream-url");
  var lastId = parseInt(root.getAttribute("data-last-id"), 10) || 0;
  var state = {};
  try { state = JSON.parse(root.getAttribute("data-state") || "{}"); } catch (e) { state = {}; }

  var list = root.querySelector("[data-comment-list]");
  var empty = root.querySelector("[data-comment-empty]");
  var form = root.querySelector("[data-comment-form]");
  var message = root.querySelector("[data-comment-message]");
  var verifyPanel = root.querySelector("[data-verify]");
  var enrolPanel = root.querySelector("[data-enrol]");
  var csrfInput = form ? form.querySelector("input[name=csrfmiddlewaretoken]") : null;
  var csrf = csrfInput ? csrfInput.value : "";

  function label(name) { return root.getAttribute("data-label-" + name) || ""; }

  function say(text, isError) {
    message.textContent = text || "";
    message.className = "comment-message" + (isError ? " comment-message-error" : "");
  }

  // Rendering ---------------------------------------------------------------------------------

  var URL_RE = /https?:\/\/[^\s<>"'`]+/gi;
  var TRAILING = /[.,;:!?)\]}'"]+$/;

  function appendLinkified(parent, text) {
    var position = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var url = match[0].replace(TRAILING, "");
      if (!url) continue;
      parent.appendChild(document.createTextNode(text.slice(position, match.index)));
      var parsed;
      try { parsed = new URL(url); } catch (e) { parsed = null; }
      if (parsed && (parsed.protocol === "http:" || parsed.protocol === "https:")) {
        var a = document.createElement("a");
        a.href = parsed.href;
        a.rel = "nofollow noopener noreferrer";
        a.target = "_blank";
        a.textContent = url;
        parent.appendChild(a);
      } else {
        parent.appendChild(document.createTextNode(url));
      }
      position = match.index + url.length;
      URL_RE.lastIndex = position;
    }
    parent.appendChild(document.createTextNode(text.slice(position)));
  }

  function localTime(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleString(document.documentElement.lang || undefined);
  }

  function render(comment) {
    var id = parseInt(comment.id, 10);
    if (!(id > lastId)) return; // already shown (stream and polling may both deliver it)
    if (document.getElementById("comment-" + id)) { lastId = id; return; }
    var item = document.createElement("li");
    item.className = "comment comment-" + (comment.role === "staff" ? "staff" : "customer");
    item.id = "comment-" + id;
    item.setAttribute("data-comment-id", String(id));
    var meta = document.createElement("div");
    meta.className = "comment-meta";
    var author = document.createElement("span");
    author.className = "comment-author";
    author.textContent = comment.author;
    var role = document.createElement("span");
    role.className = "comment-role";
    role.textContent = comment.role === "staff" ? label("staff") : label("customer");
    var time = document.createElement("time");
    time.setAttribute("datetime", comment.created_at);
    time.textContent = localTime(comment.created_at);
    meta.appendChild(author);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(role);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(time);
    var body = document.createElement("p");
    body.className = "comment-body";
    appendLinkified(body, String(comment.body));
    item.appendChild(meta);
    item.appendChild(body);
    list.appendChild(item);
    if (empty) empty.hidden = true;
    lastId = id;
  }

  Array.prototype.forEach.call(list.querySelectorAll("time[datetime]"), function (t) {
    t.textContent = localTime(t.getAttribute("datetime"));
  });

  // Live updates: SSE first, polling whenever the stream is not open -------------------------

  var pollTimer = null;
  var polling = false;
  var pollAbort = null; // the request in flight, cancelled when the page is left

  function pollOnce() {
    if (polling) return;
    polling = true;
    pollAbort = typeof window.AbortController === "function" ? new window.AbortController() : null;
    // "no-store": the thread is never written to the browser's cache (see startStream).
    fetch(baseUrl + "?after=" + lastId, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
      signal: pollAbort ? pollAbort.signal : undefined
    })
      .then(function (r) { return r.ok ? r.json() : { comments: [] }; })
      .then(function (data) { (data.comments || []).forEach(render); })
      .catch(function () { /* offline for a moment, or cancelled: the next tick tries again */ })
      .then(function () { polling = false; pollAbort = null; });
  }

  function startPolling() {
    if (pollTimer === null) pollTimer = window.setInterval(pollOnce, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer !== null) { window.clearInterval(pollTimer); pollTimer = null; }
    if (pollAbort !== null) pollAbort.abort();
  }

  // An EventSource asks in the "no-store" request mode: the browser keeps nothing of the thread.
  var source = null;

  function startStream() {
    if (typeof window.EventSource !== "function") { startPolling(); return; }
    try {
      source = new window.EventSource(streamUrl + "?after=" + lastId);
    } catch (e) { startPolling(); return; }
    source.addEventListener("open", function () {
      root.setAttribute("data-transport", "sse");
      stopPolling();
    });
    source.addEventListener("comment", function (event) {
      try { render(JSON.parse(event.data)); } catch (e) { /* ignore a malformed event */ }
    });
    source.addEventListener("error", function () {
      // EventSource reconnects by itself (sending Last-Event-ID); poll meanwhile. If it gave up
      // for good (closed), polling simply continues.
      root.setAttribute("data-transport", "polling");
      startPolling();
    });
  }

  function stopStream() {
    if (source !== null) { source.close(); source = null; }
    stopPolling();
  }

  if (typeof window.EventSource !== "function") root.setAttribute("data-transport", "polling");
  startStream();

  // Back/forward cache: a page leaves with no open connection and no timer (either would keep
  // it out of the cache or go on running there) and, shown again from the cache, picks the
  // thread up after the last comment it shows.
  window.addEventListener("pagehide", stopStream);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { stopStream(); startStream(); }
  });

  // Writing ------------------------------------------------------------------------------------

  function post(url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(payload || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var error = (data && data.error) || {};
          throw { code: error.code || "error", message: error.message || label("error") };
        }
        return data;
      });
    });
  }

  function applyState(next) {
    if (!next) return;
    state = next;
    if (verifyPanel) verifyPanel.hidden = !state.needs_verification;
    if (enrolPanel) enrolPanel.hidden = state.needs_verification || !state.needs_enrolment;
    if (form) form.hidden = state.needs_verification || state.needs_enrolment;
    var totpField = form && form.querySelector("[data-totp-field]");
    if (totpField) totpField.hidden = !state.totp_required;
  }

  function onError(error) {
    say(error && error.message ? error.message : label("error"), true);
    if (error && (error.code === "verification_required" || error.code === "session_required")) {
      applyState(Object.assign({}, state, { verified: false, needs_verification: true }));
    } else if (error && error.code === "totp_enrolment_required") {
      applyState(Object.assign({}, state, { totp_required: true, needs_enrolment: true }));
    }
  }

  var nameInput = form && form.querySelector("[name=name]");
  var emailInput = form && form.querySelector("[name=email]");
  var saved = {};
  try { saved = JSON.parse(window.localStorage.getItem(STORE_KEY) || "{}") || {}; } catch (e) { saved = {}; }
  if (nameInput && !nameInput.value && typeof saved.name === "string") nameInput.value = saved.name;
  if (emailInput && !emailInput.value && typeof saved.email === "string") emailInput.value = saved.email;

  function remember() {
    var next = { name: nameInput ? nameInput.value : saved.name || "", email: emailInput ? emailInput.value : saved.email || "" };
    try { window.localStorage.setItem(STORE_KEY, JSON.stringify(next)); } catch (e) { /* private mode */ }
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.name !== "csrfmiddlewaretoken") data[el.name] = el.value;
      });
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      post(baseUrl, data)
        .then(function (result) {
          remember();
          render(result.comment);
          form.querySelector("[name=body]").value = "";
          var totp = form.querySelector("[name=totp_code]");
          if (totp) totp.value = "";
          say(label("sent"), false);
        })
        .catch(onError)
        .then(function () { if (button) button.disabled = false; });
    });
  }

  function on(action, handler) {
    var el = root.querySelector('[data-action="' + action + '"]');
    if (el) el.addEventListener("click", handler);
  }

  on("request-code", function () {
    post(baseUrl + "/code").then(function (r) { say(r.detail, false); }).catch(onError);
  });
  on("request-link", function () {
    post(baseUrl + "/signin-link").then(function (r) { say(r.detail, false); }).catch(onError);
  });
  on("verify-code", function () {
    var input = root.querySelector("#comment-code");
    post(baseUrl + "/verify", { code: input.value })
      .then(function (r) { input.value = ""; say("", false); applyState(r.state); })
      .catch(onError);
  });
  on("enrol", function () {
    post(baseUrl + "/totp/enrol")
      .then(function (r) {
        root.querySelector("[data-enrol-img]").src = r.qr; // a data: URI drawn by the server
        root.querySelector("[data-enrol-secret]").textContent = r.secret;
        root.querySelector("[data-enrol-qr]").hidden = false;
      })
      .catch(onError);
  });
  on("confirm-enrol", function () {
    var input = root.querySelector("#comment-enrol-code");
    post(baseUrl + "/totp/confirm", { totp_code: input.value })
      .then(function (r) { input.value = ""; say("", false); applyState(r.state); })
      .catch(onError);
  });
})();
