// The trainers' editor: live preview of the Markdown source, rendered by the server.
// Progressive enhancement: without this script the "Anteprima" button re-renders the page.
(function () {
  "use strict";

  var DELAY = 400;
  var form = document.querySelector("form[data-preview-url]");
  var source = document.getElementById("editor-source");
  if (!form || !source || !window.fetch) {
    return;
  }
  var url = form.getAttribute("data-preview-url");
  var moduleSlug = form.getAttribute("data-module") || null;
  var token = form.querySelector("input[name=csrf_token]").value;
  var panel = document.getElementById("editor-preview");
  var body = document.getElementById("editor-preview-body");
  var toc = document.getElementById("editor-preview-toc");
  var tocBody = document.getElementById("editor-preview-toc-body");
  var status = document.getElementById("editor-preview-status");
  var problems = document.getElementById("editor-problems");
  var timer = null;
  var latest = 0;

  // Put the caret at the start of a 1-based line of the source and scroll to it.
  function goToLine(line) {
    var lines = source.value.split("\n");
    var offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i += 1) {
      offset += lines[i].length + 1;
    }
    source.focus();
    source.setSelectionRange(offset, offset);
    var lineHeight = parseFloat(window.getComputedStyle(source).lineHeight) || 20;
    source.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  function renderProblems(list) {
    problems.textContent = "";
    var hasErrors = list.some(function (p) { return p.severity === "error"; });
    if (hasErrors) {
      source.setAttribute("aria-invalid", "true");
    } else {
      source.removeAttribute("aria-invalid");
    }
    if (!list.length) {
      return;
    }
    var box = document.createElement("div");
    box.className = "alert error-summary " + (hasErrors ? "alert-danger" : "alert-warning");
    box.tabIndex = -1;
    var title = document.createElement("h2");
    title.className = "h5";
    title.textContent = problems.getAttribute(hasErrors ? "data-title-errors" : "data-title-warnings");
    var items = document.createElement("ul");
    items.className = "mb-0";
    list.forEach(function (problem) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "#editor-source";
      link.setAttribute("data-line", String(problem.line));
      link.textContent = problem.label;
      item.appendChild(link);
      items.appendChild(item);
    });
    box.appendChild(title);
    box.appendChild(items);
    problems.appendChild(box);
  }

  function render(data) {
    // The HTML was sanitised on the server by the same code that renders the courses.
    body.innerHTML = data.html;
    tocBody.innerHTML = data.toc_html;
    toc.hidden = !data.toc_html;
    status.textContent = data.status;
    renderProblems(data.problems);
  }

  function refresh() {
    window.clearTimeout(timer);
    latest += 1;
    var request = latest;
    panel.classList.add("is-updating");
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": token
      },
      body: JSON.stringify({ source: source.value, module: moduleSlug })
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (request === latest) {
          render(data);
        }
      })
      .catch(function () {
        if (request === latest) {
          status.textContent = form.getAttribute("data-preview-failed");
        }
      })
      .then(function () {
        if (request === latest) {
          panel.classList.remove("is-updating");
        }
      });
  }

  source.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, DELAY);
  });

  var previewButton = form.querySelector("[data-editor-preview]");
  if (previewButton) {
    previewButton.addEventListener("click", function (event) {
      event.preventDefault();
      refresh();
    });
  }

  problems.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-line]");
    if (link) {
      event.preventDefault();
      goToLine(parseInt(link.getAttribute("data-line"), 10) || 1);
    }
  });
})();
