// LGNetforma's own scripts. No inline scripts anywhere: the CSP forbids them.
(function () {
  "use strict";
  // Move focus to the error summary so screen reader users hear what went wrong.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
})();
