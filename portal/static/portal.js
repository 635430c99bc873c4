/* Rostering Portal: the few behaviours plain htmx attributes do not cover. A file, never inline script: the
   CSP allows scripts from 'self' only. Listeners sit on document, so they also serve fragments htmx swaps in. */
(function () {
  "use strict";

  // Additions only changes nobody already in the portal, so it cannot be on with Auto update or Archive (the
  // server refuses the pair with 422 too): ticking one side unticks the other.
  var EXCLUSIVE = {additions_only: ["auto_update", "archive"], auto_update: ["additions_only"],
                   archive: ["additions_only"]};

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
