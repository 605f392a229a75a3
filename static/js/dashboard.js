// Charts of the coordinators' dashboard, drawn with Chart.js from data-* attributes.
// Every chart has a table with the same figures right after it.
(function () {
  "use strict";
  if (typeof Chart === "undefined") {
    return;
  }
  var blue = "#0066cc";
  document.querySelectorAll("canvas.report-chart").forEach(function (canvas) {
    var data = JSON.parse(canvas.getAttribute("data-chart"));
    var type = canvas.getAttribute("data-chart-type");
    new Chart(canvas, {
      type: type,
      data: {
        labels: data.labels,
        datasets: [{
          label: data.label,
          data: data.values,
          backgroundColor: blue,
          borderColor: blue,
          tension: 0.2,
        }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          title: { display: Boolean(data.title), text: data.title },
          legend: { display: true, position: "bottom" },
        },
        scales: {
          x: { title: { display: Boolean(data.x), text: data.x } },
          y: {
            beginAtZero: true,
            ticks: { precision: 0 },
            title: { display: Boolean(data.y), text: data.y },
          },
        },
      },
    });
  });
})();
