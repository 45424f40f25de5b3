// Draws the one chart of a sandboxed chart page (/api/v1/runs/{uuid}/render/chart) with its own
// library. The page runs in an opaque origin (CSP sandbox without allow-same-origin): nothing here
// can reach the dashboard, its storage or its API.
(function () {
  var spec = JSON.parse(document.getElementById("figure").textContent);
  var root = document.getElementById("chart");
  function done(ok, message) {
    document.body.setAttribute("data-rendered", ok ? "ok" : "error");
    if (!ok) root.textContent = "This chart could not be drawn: " + message;
  }
  try {
    if (spec.kind === "plotly") {
      var figure = spec.figure || {};
      var layout = Object.assign({ autosize: true, margin: { l: 50, r: 20, t: 30, b: 40 } }, figure.layout || {});
      window.Plotly.newPlot(root, figure.data || [], layout, { responsive: true, displaylogo: false })
        .then(function () { done(true); }, function (e) { done(false, String(e)); });
    } else if (spec.kind === "vega") {
      window.vegaEmbed(root, spec.figure, { actions: false, renderer: "svg" })
        .then(function () { done(true); }, function (e) { done(false, String(e)); });
    } else if (spec.kind === "bokeh") {
      window.Bokeh.embed.embed_item(spec.figure, root)
        .then(function () { done(true); }, function (e) { done(false, String(e)); });
    } else {
      done(false, "unknown chart kind " + spec.kind);
    }
  } catch (e) {
    done(false, String(e));
  }
})();
