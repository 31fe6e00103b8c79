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

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (response.status === 401) {
        window.location.assign("/login");
        return null;
      }
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    });
  }

  function partUrl(src, k) {
    return src + (src.indexOf("?") >= 0 ? "&" : "?") + "part=" + k;
  }

  function plot(target, figure, times) {
    var started = performance.now();
    return Plotly.newPlot(target, figure.data, figure.layout, { responsive: true, displaylogo: false }).then(function () {
      target.on("plotly_click", openPoint);
      times.push(Math.round(performance.now() - started));
    });
  }

  // A figure, or {"part": 0, "parts": n, "figure": ...}: the other parts are fetched and drawn one per task,
  // each in its own element, so that the page never blocks for long on a large cohort.
  function draw(el, body) {
    var times = [];
    if (body.parts === undefined) {
      el.textContent = "";
      return plot(el, body, times).then(function () { return times; });
    }
    el.textContent = "";
    function part(k, figure) {
      var target = document.createElement("div");
      target.id = el.id + "-" + k;
      target.className = "tk-part";
      el.appendChild(target);
      return nextTask().then(function () { return plot(target, figure, times); });
    }
    var chain = part(0, body.figure);
    for (var k = 1; k < body.parts; k++) {
      chain = chain.then(function (k) {
        return function () {
          return getJSON(partUrl(el.dataset.src, k)).then(function (result) {
            if (result && result.ok) return part(k, result.body.figure);
            throw new Error("part " + k + " could not be loaded");
          });
        };
      }(k));
    }
    return chain.then(function () { return times; });
  }

  function render(el) {
    el.dataset.state = "loading";
    var started = performance.now();
    getJSON(el.dataset.src)
      .then(function (result) {
        if (!result) return null;
        var body = result.body;
        if (!result.ok || !(body.data || body.figure)) {
          el.textContent = body.message || "this figure could not be made";
          el.dataset.state = "empty";
          return null;
        }
        var fetched = performance.now();
        return draw(el, body).then(function (times) {
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

  // The adverse-event form: the grade menu offers only the grades that exist for the CTCAE term.
  function setGrades(list) {
    var select = document.getElementById("f-grade");
    if (!select || !list) return;
    var grades = list.split(",").filter(function (g) { return g !== ""; });
    var keep = select.value;
    while (select.options.length) select.remove(0);
    select.add(new Option("", ""));
    grades.forEach(function (g) { select.add(new Option(g, g, false, g === keep)); });
    select.dataset.grades = grades.join(",");
  }

  document.addEventListener("click", function (event) {
    var pick = event.target.closest ? event.target.closest(".tk-pick") : null;
    if (!pick) return;
    var input = document.getElementById("f-term");
    if (input) input.value = pick.dataset.term;
    setGrades(pick.dataset.grades);
    var box = document.getElementById("term-suggest");
    if (box) box.textContent = "";
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.target || event.target.id !== "term-suggest") return;
    var exact = event.target.querySelector(".tk-exact");
    if (exact) setGrades(exact.dataset.grades);
  });
})();
