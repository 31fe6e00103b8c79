// tkitrack web: draws the figures (plotly JSON fetched from this server) and opens the record a point comes from.
// No inline script anywhere (the Content-Security-Policy forbids it); this file and htmx are all the JavaScript.
(function () {
  "use strict";

  function recordAnchor(record, id) {
    if (!record) return "";
    return record === "patient" ? "#record-patient" : "#record-" + record + "-" + id;
  }

  function highlight(hash) {
    document.querySelectorAll("tr.hit").forEach(function (row) { row.classList.remove("hit"); });
    var row = hash ? document.getElementById(hash.slice(1)) : null;
    if (row) {
      row.classList.add("hit");
      row.scrollIntoView({ block: "center" });
    }
  }

  // customdata is "patient<TAB>record<TAB>id" (tkitrack.dashboards.swimmer.compute_record_keys)
  function openPoint(event) {
    var point = event && event.points && event.points[0];
    if (!point || typeof point.customdata !== "string" || !point.customdata) return;
    var parts = point.customdata.split("\t");
    var patient = parts[0], anchor = recordAnchor(parts[1], parts[2]);
    if (!patient) return;
    if (document.body.dataset.patient === patient) {
      if (anchor) {
        history.replaceState(null, "", anchor);
        highlight(anchor);
      }
      return;
    }
    window.location.assign("/patients/" + encodeURIComponent(patient) + anchor);
  }

  function nextTask() {
    return new Promise(function (resolve) { setTimeout(resolve, 0); });
  }

  // One figure, or {"figures": [...]}: consecutive parts drawn one per task, so the page never blocks for long.
  function draw(el, body) {
    var figures = body.figures || [body];
    var config = { responsive: true, displaylogo: false };
    var times = [];
    var chain = Promise.resolve();
    el.textContent = "";
    figures.forEach(function (figure, i) {
      var target = el;
      if (body.figures) {
        target = document.createElement("div");
        target.id = el.id + "-" + i;
        target.className = "tk-part";
        el.appendChild(target);
      }
      chain = chain.then(nextTask).then(function () {
        var started = performance.now();
        return Plotly.newPlot(target, figure.data, figure.layout, config).then(function () {
          target.on("plotly_click", openPoint);
          times.push(Math.round(performance.now() - started));
        });
      });
    });
    return chain.then(function () { return times; });
  }

  function render(el) {
    el.dataset.state = "loading";
    var started = performance.now();
    fetch(el.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/login");
          return null;
        }
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (!result) return null;
        if (!result.ok || !(result.body.data || result.body.figures)) {
          el.textContent = result.body.message || "this figure could not be made";
          el.dataset.state = "empty";
          return null;
        }
        var fetched = performance.now();
        return draw(el, result.body).then(function (times) {
          el.dataset.fetchMs = String(Math.round(fetched - started));
          el.dataset.renderMs = String(Math.round(performance.now() - fetched));
          el.dataset.partMs = times.join(",");
          el.dataset.state = "ready";
        });
      })
      .catch(function (error) {
        el.textContent = "this figure could not be drawn: " + error;
        el.dataset.state = "error";
      });
  }

  function scan(root) {
    (root || document).querySelectorAll(".tk-plot[data-src]:not([data-state])").forEach(render);
  }

  document.addEventListener("DOMContentLoaded", function () {
    scan(document);
    if (window.location.hash) highlight(window.location.hash);
  });
  document.addEventListener("htmx:afterSettle", function (event) { scan(event.target); });
})();
