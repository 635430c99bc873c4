/* Rostering Portal: the few behaviours plain htmx attributes do not cover. A file, never inline script: the
   CSP allows scripts from 'self' only. Listeners sit on document, so they also serve fragments htmx swaps in. */
(function () {
  "use strict";

  // Additions only changes nobody already in the portal, so it cannot be on with Auto update or Archive (the
  // server refuses the pair with 422 too): ticking one side unticks the other.
  var EXCLUSIVE = {additions_only: ["auto_update", "archive"], auto_update: ["additions_only"],
                   archive: ["additions_only"]};

  // A control changed while the page was still loading (before htmx was listening) would never send its
  // request: the SIS menu would show Campus over Aeries' fields. Once htmx has processed the page (its
  // DOMContentLoaded listener was added first, this file is deferred after it), replay such a change.
  function changedSinceServed(el) {
    if (el.tagName === "SELECT") {
      var served = el.options.length ? el.options[0].value : "";
      for (var i = 0; i < el.options.length; i += 1) {
        if (el.options[i].defaultSelected) {
          served = el.options[i].value;
        }
      }
      return el.value !== served;
    }
    return "defaultValue" in el && el.value !== el.defaultValue;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[hx-trigger*=change]").forEach(function (el) {
      if (changedSinceServed(el)) {
        el.dispatchEvent(new Event("change", {bubbles: true}));
      }
    });
  });

  // htmx swaps no 403, 404 or 500 answer, nor one that never came: the button would seem to do nothing. Say what
  // the portal's error page says (its message paragraph, as text), or that the portal could not be reached.
  function showRequestError(text) {
    var box = document.getElementById("request-error");
    if (box) {
      box.textContent = text;
      box.hidden = false;
    }
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var message = new DOMParser().parseFromString(xhr.responseText || "", "text/html").querySelector("main p");
    var said = message ? message.textContent.trim() : "";
    showRequestError((said || "That did not work (the portal answered " + xhr.status + ").") +
                     " Reload the page to see where things stand.");
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var box = document.getElementById("request-error");
    var cause = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    if (box && cause && /^(click|submit|change)$/.test(cause.type)) {
      box.hidden = true;  // the next press gets its own answer (a progress poll leaves the message up)
    }
  });

  document.addEventListener("htmx:sendError", function () {
    showRequestError("The portal could not be reached, so nothing was done. Check your connection, then reload " +
                     "the page and try again.");
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches(".sync-settings input[type=checkbox]") || !box.checked) {
      return;
    }
    (EXCLUSIVE[box.name] || []).forEach(function (name) {
      var other = box.form.elements.namedItem(name);
      if (other && other.checked) {
        other.checked = false;
      }
    });
  });
})();
