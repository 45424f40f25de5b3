/*
 * The runs page's first requests, sent as soon as the page's HTML is in: before the dashboard's
 * code has downloaded and started (about 0.15 s, more on a slow link or a busy machine), which is
 * when ui/src/prefetch.ts would send them. api.ts's request() takes each answer, once, for the same
 * path; a path the code would not ask for is never taken (the code asks for its own).
 * The runs view's URL is read as url.ts's decodeRunsView reads it (test/early.test.ts holds the
 * two to the same requests).
 */
(function () {
  "use strict";
  var DEFAULT_COLUMNS = ["name", "status", "created_at", "duration", "tags"];
  var FIRST_RUNS_PAGE = 50;
  var route = /^#\/projects\/([^/?]+)\/?(?:\?(.*))?$/.exec(location.hash);
  if (!route || typeof fetch !== "function") return;
  var project;
  try {
    project = decodeURIComponent(route[1]);
  } catch (e) {
    return;
  }
  var search = new URLSearchParams(route[2] || "");
  var filter = search.get("filter") || "";
  var sort = search.getAll("sort").filter(Boolean);
  var columns = search.has("col") ? search.getAll("col").filter(Boolean) : DEFAULT_COLUMNS;
  var runs = new URLSearchParams();
  runs.append("project", project);
  if (filter) runs.append("filter", filter);
  (sort.length ? sort : ["-created_at"]).forEach(function (s) { runs.append("order_by", s); });
  columns.forEach(function (c) { runs.append("columns", c); });
  runs.append("only_columns", "true");
  runs.append("limit", String(FIRST_RUNS_PAGE));
  var count = new URLSearchParams();
  count.append("project", project);
  if (filter) count.append("filter", filter);
  // the runs page's code (named in index.html at build time), fetched beside the entry's
  var chunks = document.querySelector('meta[name="labbook-runs-chunks"]');
  ((chunks && chunks.getAttribute("content")) || "").split(" ").filter(Boolean).forEach(function (file) {
    var link = document.createElement("link");
    link.rel = "modulepreload";
    link.href = "./" + file;
    document.head.appendChild(link);
  });
  var meta = document.querySelector('meta[name="labbook-api"]');
  var base = ((meta && meta.getAttribute("content")) || "/api/v1").replace(/\/$/, "");
  var headers = { Accept: "application/json" };
  var token = null;
  try {
    token = localStorage.getItem("labbook.token");
  } catch (e) { /* storage refused: no token, as api.ts reads it */ }
  if (token) headers.Authorization = "Bearer " + token;
  var early = {};
  ["/runs?" + runs, "/runs/count?" + count].forEach(function (path) {
    var response = fetch(base + path, { headers: headers });
    response.catch(function () { /* taken (and reported) by the page's own request */ });
    early[path] = response;
  });
  // taken within seconds by the page's first queries, or never: not by a re-read minutes later
  window.labbookEarly = { until: Date.now() + 10000, requests: early };
})();
