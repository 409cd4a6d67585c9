/// The UI's stylesheet and script, served by Ensemble itself (no CDN, no network).
enum WebAssets {
    static let css = #"""
:root { --bg: #f7f7f5; --fg: #1d1d1b; --muted: #6b6b66; --line: #e2e1dc; --accent: #2456a6; --ok: #2e7d32; --warn: #b26a00; --bad: #b3261e; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-decoration: none; } a:hover, a:focus { text-decoration: underline; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
header.top { display: flex; gap: 1.2rem; align-items: center; padding: .6rem 1.2rem; background: #1d2b44; color: #fff; flex-wrap: wrap; }
header.top a { color: #dfe7f5; } header.top .brand { font-weight: 700; color: #fff; margin-right: .6rem; }
header.top .spacer { flex: 1; } header.top form.signout { margin: 0; }
button.link { background: none; border: none; padding: 0; color: inherit; text-decoration: underline; cursor: pointer; font: inherit; }
header.top button.link { color: #dfe7f5; }
table.props td.name { width: 55%; } table.props td.name code, figcaption code, table.runs th.col a, table.runs .gv code { overflow-wrap: break-word; white-space: normal; }
table.props td.value { overflow-wrap: anywhere; word-break: break-word; }
input.filter { margin: .2rem 0 .5rem; min-width: 16rem; } details.group { margin: .6rem 0; } details.group > summary { cursor: pointer; padding: .3rem 0; }
svg.chart circle.point { stroke: #fff; stroke-width: 1.5; } svg.chart text.value { font-weight: 600; }
.narrow { max-width: 26rem; } pre.token { white-space: pre-wrap; word-break: break-all; background: #f3f5f9; padding: .6rem; border-radius: 6px; }
.notice { background: #e3f1e4; color: var(--ok); padding: .6rem .8rem; border-radius: 6px; margin: .5rem 0; }
main { padding: 1rem 1.2rem 3rem; max-width: 1280px; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: .4rem 0 1rem; } h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
.muted { color: var(--muted); } .small { font-size: .85rem; }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; min-width: 0; overflow-x: auto; }
.grid > * { min-width: 0; }
input, textarea, select { max-width: 100%; }
ul.plain { list-style: none; padding-left: 0; }
li, td, dd, p, figcaption { overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: .35rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; font-size: .85rem; color: var(--muted); white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .78rem; background: #e8edf6; color: #233a66; }
.badge.ok { background: #e3f1e4; color: var(--ok); } .badge.warn { background: #fbefdc; color: var(--warn); } .badge.bad { background: #fbe4e2; color: var(--bad); }
.board { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: .8rem; }
.board .col { background: #eceae4; border-radius: 8px; padding: .5rem; min-height: 4rem; }
.board .col h3 { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: .2rem .3rem .5rem; }
.board .item { background: var(--card); border-radius: 6px; padding: .45rem .6rem; margin-bottom: .45rem; border: 1px solid var(--line); }
form.inline { display: flex; gap: .5rem; flex-wrap: wrap; margin: .5rem 0 1rem; }
input[type=text], input[type=search], input[type=password], input[type=email], textarea, select { font: inherit; padding: .35rem .5rem; border: 1px solid #c8c6bf; border-radius: 6px; background: #fff; }
input[type=search] { min-width: min(36rem, 100%); }
button { font: inherit; padding: .35rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
.error { background: #fbe4e2; color: var(--bad); padding: .6rem .8rem; border-radius: 6px; margin: .5rem 0; }
.pager { display: flex; gap: 1rem; align-items: center; margin: .6rem 0; }
.heat td.lvl { text-align: center; font-variant-numeric: tabular-nums; min-width: 2.2rem; }
.heat td.drift { background: #f6d4d1; color: #8a1c12; font-weight: 600; } .heat td.calm { background: #e6f2e6; }
.lvl0 { background: #fff; color: #bbb; } .lvl1 { background: #e8eef8; } .lvl2 { background: #c9d8f0; } .lvl3 { background: #9dbae6; } .lvl4 { background: #5f8fd6; color: #fff; } .lvl5 { background: #2456a6; color: #fff; }
svg.chart { width: 100%; height: auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
svg.chart .axis { stroke: #999; stroke-width: 1; } svg.chart text { font-size: 11px; fill: #555; }
svg.chart .line { fill: none; stroke-width: 1.6; } svg.chart .band { opacity: .18; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
.kv dt { color: var(--muted); } .kv dd { margin: 0; }
figure { margin: 0; } form.inline label { max-width: 100%; min-width: 0; } #group, .inline select { max-width: min(20rem, 100%); } table.runs th.group-head { white-space: normal; overflow-wrap: anywhere; }
.table-wrap { overflow: auto; max-width: 100%; max-height: 80vh; border: 1px solid var(--line); border-radius: 6px; background: var(--card); }
table.runs { width: max-content; min-width: 100%; } table.runs thead th { background: #f3f2ee; }
table.runs th.col { white-space: normal; min-width: 5rem; max-width: 11rem; overflow-wrap: break-word; vertical-align: bottom; }
table.runs td.cell { max-width: 14rem; overflow-wrap: anywhere; } table.runs th.group-head { text-align: center; border-left: 2px solid var(--line); }
table.runs .stick { position: sticky; background: var(--card); z-index: 1; } table.runs thead .stick { background: #f3f2ee; z-index: 2; }
table.runs .first { left: 0; width: 2.6rem; min-width: 2.6rem; max-width: 2.6rem; }
table.runs .second { left: 2.6rem; min-width: 10rem; max-width: 18rem; white-space: normal; overflow-wrap: anywhere; box-shadow: inset -1px 0 0 var(--line); }
table.runs .gv { left: 0; min-width: 8rem; max-width: 16rem; overflow-wrap: anywhere; box-shadow: inset -1px 0 0 var(--line); }
th button.sort { color: var(--accent); text-decoration: none; font-weight: 600; text-align: inherit; overflow-wrap: break-word; white-space: normal; }
th button.sort:hover, th button.sort:focus { text-decoration: underline; } .nowrap { white-space: nowrap; } button.secondary { background: #fff; color: var(--accent); }
.chooser { margin: .4rem 0 .8rem; } .chooser > summary { cursor: pointer; }
.chooser .choices { max-height: 22rem; overflow: auto; display: grid; gap: .6rem; grid-template-columns: repeat(auto-fit, minmax(min(22rem, 100%), 1fr)); }
.chooser fieldset { border: 1px solid var(--line); border-radius: 6px; min-width: 0; } .chooser label { display: block; overflow-wrap: anywhere; font-size: .9rem; }
ol.legend, ul.legend { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(20rem, 100%), 1fr)); gap: .15rem 1rem; padding-left: 0; list-style: none; max-height: 16rem; overflow: auto; margin: .3rem 0; }
.legend li { overflow-wrap: anywhere; font-size: .88rem; } .legend li:hover, th[data-hl-series]:hover { background: #eef2fa; }
svg.swatch { width: 12px; height: 12px; vertical-align: -1px; } svg.chart .dim { opacity: .1; } svg.chart .line.hl { stroke-width: 3; opacity: 1; }
svg.chart .line.pc { stroke-width: 1.4; opacity: .7; } svg.chart text.axis-name { font-weight: 600; fill: #333; } svg.chart text.metric { fill: var(--accent); }
.wide-chart { overflow-x: auto; } .half { max-width: 760px; } .wide-chart svg.chart { min-width: 640px; }
@media (max-width: 640px) { table.runs .second { min-width: 7rem; max-width: 9rem; } table.runs .gv { min-width: 6rem; max-width: 9rem; } main { padding: .6rem; } header.top { gap: .7rem; } h1 { font-size: 1.25rem; } .grid { grid-template-columns: 1fr; } }
@media print { header.top, form, .noprint { display: none !important; } body { background: #fff; font-size: 11pt; } main { padding: 0; max-width: none; } .card { border: none; padding: 0; } }
"""#

    static let favicon = ##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d2b44"/><circle cx="11" cy="12" r="4" fill="#9dbae6"/><circle cx="21" cy="12" r="4" fill="#5f8fd6"/><circle cx="16" cy="21" r="4" fill="#fff"/></svg>"##

    static let js = #"""
// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", function () {
  // Hover values on charts: the nearest point's value in the chart's caption.
  // Filter boxes: table rows by their text, charts by their metric name.
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    if (!table) return;
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (tr) { tr.hidden = q !== "" && tr.textContent.toLowerCase().indexOf(q) < 0; });
    });
  });
  document.querySelectorAll("input[data-filter-charts]").forEach(function (input) {
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      document.querySelectorAll("figure.chart-card").forEach(function (f) { f.hidden = q !== "" && f.getAttribute("data-key").toLowerCase().indexOf(q) < 0; });
    });
  });
  // Column chooser: the search narrows the choices; the buttons tick or untick the ones shown.
  document.querySelectorAll("input[data-filter-choices]").forEach(function (input) {
    var box = document.getElementById(input.getAttribute("data-filter-choices"));
    if (!box) return;
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      box.querySelectorAll("label").forEach(function (l) { l.hidden = q !== "" && l.textContent.toLowerCase().indexOf(q) < 0; });
    });
  });
  document.querySelectorAll("button[data-check]").forEach(function (b) {
    b.addEventListener("click", function () {
      var box = document.getElementById(b.getAttribute("data-check"));
      box.querySelectorAll("label:not([hidden]) input[type=checkbox]").forEach(function (c) { c.checked = b.getAttribute("data-state") === "1"; });
    });
  });
  document.querySelectorAll("button[data-check-all]").forEach(function (b) {
    b.addEventListener("click", function () {
      document.getElementById(b.getAttribute("data-check-all")).querySelectorAll("tbody input[type=checkbox]").forEach(function (c) { c.checked = true; });
    });
  });
  // Compare: pointing at a run (or a group) in the legend, a column or a line picks out its lines everywhere.
  function highlight(attr, value) {
    document.querySelectorAll("svg [data-series]").forEach(function (el) {
      var on = value === null || el.getAttribute(attr) === value;
      el.classList.toggle("dim", !on);
      el.classList.toggle("hl", value !== null && on);
    });
  }
  document.querySelectorAll("[data-hl-series], [data-hl-group]").forEach(function (el) {
    var bySeries = el.hasAttribute("data-hl-series");
    var value = el.getAttribute(bySeries ? "data-hl-series" : "data-hl-group");
    el.addEventListener("mouseenter", function () { highlight(bySeries ? "data-series" : "data-group", value); });
    el.addEventListener("mouseleave", function () { highlight("data-series", null); });
  });
  document.querySelectorAll("svg [data-series]").forEach(function (el) {
    el.addEventListener("mouseenter", function () { highlight("data-series", el.getAttribute("data-series")); });
    el.addEventListener("mouseleave", function () { highlight("data-series", null); });
  });
  document.querySelectorAll("svg.chart[data-points]").forEach(function (svg) {
    var pts = JSON.parse(svg.getAttribute("data-points"));
    var out = document.getElementById(svg.getAttribute("data-readout"));
    if (!out || !pts.length) return;
    svg.addEventListener("mousemove", function (e) {
      var r = svg.getBoundingClientRect();
      var x = (e.clientX - r.left) / r.width * svg.viewBox.baseVal.width;
      var best = pts[0];
      pts.forEach(function (p) { if (Math.abs(p[0] - x) < Math.abs(best[0] - x)) best = p; });
      out.textContent = best[2] + " = " + best[3];
    });
  });
});
"""#
}
