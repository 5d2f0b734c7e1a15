// Gerbang ops: the little behaviour the pages need, kept out of the HTML so that the
// Content-Security-Policy can forbid inline script.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
