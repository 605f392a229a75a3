// LGNetforma's own scripts. No inline scripts anywhere: the CSP forbids them.
(function () {
  "use strict";
  // Move focus to the error summary so screen reader users hear what went wrong.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  } else {
    // After a submission, focus goes to its confirmation; after a filter or a page change
    // (a query in the address), to the list of results, whose caption says what it holds.
    var landing = document.querySelector("[data-flash]") ||
      (window.location.search && document.querySelector("[data-results]"));
    if (landing) {
      landing.focus({ preventScroll: false });
    }
  }

  // The main menu on narrow screens (Bootstrap Italia's markup, our behaviour: its bundle
  // injects inline styles that the CSP refuses). Opens on the hamburger, moves focus into
  // the menu, keeps Tab inside it while open, closes on Escape, the close button or the
  // overlay, and gives focus back to the hamburger.
  var toggler = document.querySelector(".custom-navbar-toggler[aria-controls]");
  var menu = toggler && document.getElementById(toggler.getAttribute("aria-controls"));
  if (!menu) {
    return;
  }
  function focusables() {
    return Array.prototype.filter.call(
      menu.querySelectorAll("a[href], button:not([disabled]), input:not([type=hidden])"),
      function (element) { return element.offsetParent !== null; }
    );
  }
  function isOpen() {
    return menu.classList.contains("expanded");
  }
  // While the menu covers the page, the rest is out of reach for screen readers too.
  function setBehind(inert) {
    Array.prototype.forEach.call(
      document.querySelectorAll(".skiplinks, .it-header-slim-wrapper, .it-header-center-wrapper, main, footer"),
      function (element) { element.inert = inert; }
    );
  }
  function open() {
    menu.classList.add("expanded");
    toggler.setAttribute("aria-expanded", "true");
    setBehind(true);
    var items = focusables();
    var first = menu.querySelector(".navbar-nav a[href]") || items[0];
    if (first) {
      first.focus();
    }
  }
  function close() {
    menu.classList.remove("expanded");
    toggler.setAttribute("aria-expanded", "false");
    setBehind(false);
    toggler.focus();
  }
  toggler.addEventListener("click", function () {
    if (isOpen()) {
      close();
    } else {
      open();
    }
  });
  Array.prototype.forEach.call(menu.querySelectorAll("[data-close-menu]"), function (element) {
    element.addEventListener("click", close);
  });
  document.addEventListener("keydown", function (event) {
    if (!isOpen()) {
      return;
    }
    if (event.key === "Escape") {
      close();
    } else if (event.key === "Tab") {
      var items = focusables();
      if (!items.length) {
        return;
      }
      var first = items[0];
      var last = items[items.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  // Back to a wide screen with the menu open: the menu is the desktop bar again.
  window.matchMedia("(min-width: 992px)").addEventListener("change", function (query) {
    if (query.matches && isOpen()) {
      menu.classList.remove("expanded");
      toggler.setAttribute("aria-expanded", "false");
      setBehind(false);
    }
  });
})();
