import Mustache

/// The page templates. `{{value}}` escapes HTML; `{{{value}}}` is used only for markup we generate
/// and escape ourselves (SVG charts).
enum WebTemplates {
    static let header = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · Ensemble</title><link rel="icon" href="/favicon.ico" type="image/svg+xml"><link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script></head>
<body><header class="top"><a class="brand" href="/">Ensemble</a><a href="/experiments">Experiments</a><a href="/models">Models</a><a href="/datasets">Datasets</a><a href="/projects">Projects</a><a href="/handoffs">Handoffs</a><a href="/deployments">Deployments</a><a href="/team">Team</a><span class="spacer"></span>{{#chromeUser}}{{#chromeAdmin}}<a href="/admin/users">Admin</a>{{/chromeAdmin}}<a href="/account" title="Your account and API tokens"><bdi>{{chromeUser}}</bdi></a><form class="inline signout" method="post" action="/signout">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}<button class="link">Sign out</button></form>{{/chromeUser}}{{^chromeUser}}{{#chromeAuth}}<a href="/signin">Sign in</a>{{/chromeAuth}}{{/chromeUser}}</header>
<main>
"""#
    static let footer = "</main></body></html>\n"

    static let error = #"""
{{> header}}<h1>{{heading}}</h1><p class="error">{{message}}</p><p><a href="/">Back to the home page</a></p>{{> footer}}
"""#

    static let home = #"""
{{> header}}
<h1>Team hub</h1>
<div class="grid">
  <section class="card"><h2>Runs this week</h2><p><strong>{{runsThisWeek}}</strong> run(s) in the last 7 days</p>
    <table><tbody>{{#recentRuns}}<tr><td><a href="/runs/{{id}}"><bdi>{{name}}</bdi></a></td><td class="muted small"><bdi>{{experiment}}</bdi></td><td class="muted small">{{when}}</td></tr>{{/recentRuns}}</tbody></table></section>
  <section class="card"><h2>Recently registered models</h2>
    <table><tbody>{{#models}}<tr><td><a href="/models/{{urlName}}"><bdi>{{name}}</bdi></a></td><td>{{#aliases}}<span class="badge ok">@{{.}}</span> {{/aliases}}</td><td class="muted small">v{{latest}}</td></tr>{{/models}}</tbody></table>
    {{^models}}<p class="muted">No registered models yet.</p>{{/models}}</section>
  <section class="card"><h2>Activity</h2>
    <ul class="small">{{#activity}}<li><span class="muted">{{when}}</span> {{#project}}<a href="/projects/{{project}}">{{project}}</a>{{/project}} {{summary}}{{#actor}} <span class="muted">— {{actor}}</span>{{/actor}}</li>{{/activity}}</ul>
    {{^activity}}<p class="muted">Nothing yet. Try <code>ensemble demo</code>.</p>{{/activity}}</section>
</div>
<h2>Projects by stage</h2>
{{> board}}
{{> footer}}
"""#

    static let board = #"""
<div class="board">{{#stages}}<div class="col"><h3><bdi>{{name}}</bdi> ({{count}})</h3>{{#projects}}<div class="item"><a href="/projects/{{id}}"><bdi>{{name}}</bdi></a>{{#owner}}<div class="muted small">owner {{owner}}</div>{{/owner}}{{#late}}<div><span class="badge {{lateClass}}">{{late}}</span></div>{{/late}}</div>{{/projects}}</div>{{/stages}}</div>
"""#

    static let experiments = #"""
{{> header}}
<h1>Experiments</h1>
<form class="inline" method="get" action="/experiments"><label for="q" class="muted">Name contains</label><input type="search" id="q" name="q" value="{{q}}"><button>Search</button></form>
<div class="scroll"><table><thead><tr><th>Name</th><th>ID</th><th>Last update</th></tr></thead><tbody>
{{#experiments}}<tr><td><a href="/experiments/{{id}}"><bdi>{{name}}</bdi></a></td><td class="muted">{{id}}</td><td class="muted small">{{updated}}</td></tr>{{/experiments}}
</tbody></table></div>{{^experiments}}<p class="muted">No experiments match.</p>{{/experiments}}
{{> footer}}
"""#

    static let runs = #"""
{{> header}}
<h1><bdi>{{name}}</bdi></h1>
<form class="inline" method="get" action="/experiments/{{id}}">
  <label for="filter" class="muted">Filter</label>
  <input type="search" id="filter" name="filter" value="{{filter}}" placeholder="metrics.accuracy > 0.9 and params.model = 'xgb'">
  <input type="hidden" name="order" value="{{order}}"><input type="hidden" name="cols" value="{{cols}}">
  <label>Group by <select name="group" id="group">{{#groupOptions}}<option value="{{key}}" {{#on}}selected{{/on}}>{{label}}</option>{{/groupOptions}}</select></label><button>Search</button>
</form>
{{#error}}<p class="error">{{error}}</p>{{/error}}
<details class="noprint chooser"><summary>Columns <span class="muted small">{{count(metricColumns)}} metric(s), {{count(paramColumns)}} param(s) shown</span></summary>
<form method="get" action="/experiments/{{id}}"><input type="hidden" name="filter" value="{{filter}}"><input type="hidden" name="order" value="{{order}}"><input type="hidden" name="group" value="{{group}}">
<input type="search" class="filter" data-filter-choices="choices" placeholder="Search columns" aria-label="Search columns">
<div id="choices" class="choices"><fieldset><legend>Metrics</legend>{{#metricChoices}}<label title="{{key}}"><input type="checkbox" name="col" value="{{key}}" {{#on}}checked{{/on}}> <code>{{label}}</code></label>{{/metricChoices}}</fieldset>
<fieldset><legend>Parameters</legend>{{#paramChoices}}<label title="{{key}}"><input type="checkbox" name="col" value="{{key}}" {{#on}}checked{{/on}}> <code>{{label}}</code></label>{{/paramChoices}}</fieldset></div>
<p><button>Show columns</button> <button type="button" class="secondary" data-check="choices" data-state="1">Tick the shown</button> <button type="button" class="secondary" data-check="choices" data-state="0">Untick the shown</button></p></form></details>
{{#grouped}}
<h2>Grouped by <code>{{key}}</code></h2>
<div class="table-wrap"><table class="runs" id="groups"><thead>
<tr><th class="stick gv" rowspan="2">Value</th><th class="num" rowspan="2">Runs</th>{{#metrics}}<th class="group-head" colspan="3"><code title="{{.}}">{{.}}</code></th>{{/metrics}}</tr>
<tr>{{#metrics}}<th class="num">mean</th><th class="num">min</th><th class="num">max</th>{{/metrics}}</tr></thead>
<tbody>{{#rows}}<tr><td class="stick gv">{{#runsURL}}<a href="{{runsURL}}"><bdi>{{value}}</bdi></a>{{/runsURL}}{{^runsURL}}<bdi>{{value}}</bdi>{{/runsURL}}</td><td class="num">{{runs}}</td>{{#cells}}<td class="num">{{.}}</td>{{/cells}}</tr>{{/rows}}</tbody></table></div>
{{^rows}}<p class="muted">No runs match.</p>{{/rows}}
{{#more}}<p class="muted small">Only the {{count(rows)}} largest groups are listed.</p>{{/more}}
<p class="small muted">Each value links to its runs. The metrics are the chosen metric columns (latest values; NaN left out).</p>
{{/grouped}}
{{^grouped}}
<form method="get" action="/experiments/{{id}}" id="sort"><input type="hidden" name="filter" value="{{filter}}"><input type="hidden" name="cols" value="{{cols}}"><input type="hidden" name="group" value="{{group}}"></form>
<form method="get" action="/compare" id="compare">
<div class="table-wrap"><table class="runs" id="runs"><thead>
<tr><th class="stick first" rowspan="2"><span class="muted">cmp</span></th><th class="stick second" rowspan="2"><button class="link sort" form="sort" name="order" value="{{sortName}}">Run</button></th><th rowspan="2"><button class="link sort" form="sort" name="order" value="{{sortStart}}">Started</button></th><th rowspan="2">Status</th>
{{#metricSpan}}<th class="group-head" colspan="{{.}}">Metrics</th>{{/metricSpan}}{{#paramSpan}}<th class="group-head" colspan="{{.}}">Parameters</th>{{/paramSpan}}</tr>
<tr>{{#metricColumns}}<th class="num col"><button class="link sort" form="sort" name="order" value="{{sortOrder}}" title="{{key}}">{{{label}}}</button></th>{{/metricColumns}}{{#paramColumns}}<th class="col"><button class="link sort" form="sort" name="order" value="{{sortOrder}}" title="{{key}}">{{{label}}}</button></th>{{/paramColumns}}</tr></thead>
<tbody>{{#rows}}<tr><td class="stick first"><input type="checkbox" name="run" value="{{id}}" aria-label="compare {{name}}"></td><td class="stick second name"><a href="/runs/{{id}}"><bdi>{{name}}</bdi></a></td><td class="muted small nowrap">{{started}}</td><td><span class="badge {{statusClass}}">{{status}}</span></td>{{#cells}}<td class="{{#num}}num{{/num}} cell">{{text}}</td>{{/cells}}</tr>{{/rows}}</tbody></table></div>
{{^rows}}<p class="muted">No runs match.</p>{{/rows}}
<div class="pager">{{#prev}}<a href="{{prev}}" rel="prev">← Previous</a>{{/prev}}<span class="muted">Page {{page}} · {{count}} run(s) shown</span>{{#next}}<a href="{{next}}" rel="next">Next →</a>{{/next}}
<button type="submit">Compare selected</button> <button type="button" class="secondary" data-check-all="runs">Tick all on this page</button></div>
</form>
{{/grouped}}
{{> footer}}
"""#

    static let run = #"""
{{> header}}
<h1><bdi>{{name}}</bdi> <span class="badge {{statusClass}}">{{status}}</span></h1>
<p class="muted small">Run {{id}} in <a href="/experiments/{{experimentID}}"><bdi>{{experiment}}</bdi></a> · started {{started}}{{#duration}} · {{duration}}{{/duration}}{{#user}} · by {{user}}{{/user}}</p>
<h2>Parameters <span class="muted small">{{paramCount}}</span></h2>
<input type="search" class="filter noprint" data-filter="params" placeholder="Filter parameters" aria-label="Filter parameters">
<div class="scroll"><table class="props" id="params"><tbody>{{#params}}<tr><td class="name"><code title="{{key}}">{{{name}}}</code></td><td class="value">{{value}}</td></tr>{{/params}}</tbody></table></div>
{{^params}}<p class="muted">None.</p>{{/params}}
<h2>Metrics <span class="muted small">{{metricCount}}</span></h2>
<input type="search" class="filter noprint" data-filter="metrics" placeholder="Filter metrics" aria-label="Filter metrics">
<div class="scroll"><table class="props" id="metrics"><thead><tr><th>Metric</th><th class="num">Latest</th><th class="num">Step</th></tr></thead><tbody>{{#metrics}}<tr><td class="name"><code title="{{key}}">{{{name}}}</code></td><td class="num value">{{value}}</td><td class="num muted small">{{step}}</td></tr>{{/metrics}}</tbody></table></div>
{{^metrics}}<p class="muted">None.</p>{{/metrics}}
<div class="grid">
<section class="card"><h2>Tags</h2><table class="props"><tbody>{{#tags}}<tr><td class="name"><code title="{{key}}">{{{name}}}</code></td><td class="value">{{value}}</td></tr>{{/tags}}</tbody></table>{{^tags}}<p class="muted">None.</p>{{/tags}}</section>
<section class="card"><h2>Dataset inputs</h2><ul>{{#inputs}}<li><bdi>{{name}}</bdi> <span class="muted small">@{{digest}} · {{context}}</span></li>{{/inputs}}</ul>{{^inputs}}<p class="muted">None.</p>{{/inputs}}</section>
</div>
<h2>Charts</h2>
<form class="inline noprint" method="get" action="/runs/{{id}}"><label><input type="checkbox" name="log" value="1" {{#log}}checked{{/log}}> log scale</label>
<label>x axis <select name="x"><option value="step" {{#xStep}}selected{{/xStep}}>step</option><option value="time" {{^xStep}}selected{{/xStep}}>time (s)</option></select></label><button>Redraw</button>
<input type="search" class="filter" data-filter-charts="1" placeholder="Filter charts" aria-label="Filter charts"></form>
{{#chartGroups}}<details class="group" open><summary><strong>{{name}}</strong> <span class="muted small">{{count}} metric(s){{#more}}, {{more}} not drawn: filter the table{{/more}}</span></summary>
<div class="grid">{{#charts}}<figure class="card chart-card" data-key="{{key}}"><figcaption><code title="{{key}}">{{{label}}}</code> <span class="muted small">{{points}} point(s)</span> <span class="small" id="{{readout}}"></span></figcaption>{{{svg}}}</figure>{{/charts}}</div></details>{{/chartGroups}}
{{^chartGroups}}<p class="muted">No metrics.</p>{{/chartGroups}}
<section id="system-metrics">
<h2>System metrics</h2>
{{^systemMetrics}}<p class="muted">None logged. <code>mlflow.start_run(log_system_metrics=True)</code> records CPU, memory, disk, network and GPU use.</p>{{/systemMetrics}}
<div class="scroll"><table class="props"><tbody>{{#systemMetrics}}<tr><td class="name">{{key}}</td><td class="num value">{{value}}</td><td class="num muted small">step {{step}}</td></tr>{{/systemMetrics}}</tbody></table></div>
<div class="grid">{{#systemCharts}}<figure class="card chart-card" data-key="{{key}}"><figcaption><code title="{{key}}">{{{label}}}</code> <span class="muted small">{{points}} point(s)</span> <span class="small" id="{{readout}}"></span></figcaption>{{{svg}}}</figure>{{/systemCharts}}</div></section>
<h2>Artifacts{{#dir}} <span class="muted small">/{{dir}}</span>{{/dir}}</h2>
{{#parentURL}}<p><a href="{{parentURL}}">↑ up</a></p>{{/parentURL}}
<ul>{{#artifacts}}<li>{{#isDir}}<a href="/runs/{{runID}}?dir={{urlPath}}">{{path}}/</a>{{/isDir}}{{^isDir}}<a href="/runs/{{runID}}/artifact?path={{urlPath}}">{{path}}</a> <span class="muted small">{{size}} bytes</span> <a class="small" href="/get-artifact?run_id={{runID}}&amp;path={{urlPath}}">download</a>{{/isDir}}</li>{{/artifacts}}</ul>
{{^artifacts}}<p class="muted">No artifacts.</p>{{/artifacts}}
<p><a href="/lineage?run={{id}}">Lineage</a></p>
{{> footer}}
"""#

    static let compare = #"""
{{> header}}
<h1>Compare {{count}} runs</h1>
<form id="cmp" method="get" action="/compare">{{#runs}}<input type="hidden" name="run" value="{{id}}">{{/runs}}</form>
<section class="card legend-card"><h2>Runs <span class="muted small">point at a name to pick out its lines</span></h2>
<p class="inline noprint"><label>Colour by <select name="colour" form="cmp">{{#colourOptions}}<option value="{{key}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/colourOptions}}</select></label> <button form="cmp">Apply</button></p>
<ul class="legend groups">{{#groups}}<li data-hl-group="{{index}}">{{{swatch}}} <bdi>{{value}}</bdi> <span class="muted small">{{runs}} run(s)</span></li>{{/groups}}</ul>
<ol class="legend" id="legend">{{#runs}}<li data-hl-series="{{index}}"><a href="/runs/{{id}}" title="{{name}}">{{{swatch}}} <bdi>{{name}}</bdi></a></li>{{/runs}}</ol>
</section>
<h2>Parameters</h2>
<p class="small noprint">{{#hiddenParams}}{{.}} parameter(s) with one value in every run are hidden. {{/hiddenParams}}<label><input type="checkbox" name="all" value="1" form="cmp" {{#showAll}}checked{{/showAll}}> show every parameter</label> <button form="cmp">Apply</button></p>
<div class="table-wrap"><table class="runs" id="compare-params"><thead><tr><th class="stick gv">Parameter</th>{{#runs}}<th class="col" data-hl-series="{{index}}">{{{swatch}}} <a href="/runs/{{id}}" title="{{name}}"><bdi>{{name}}</bdi></a></th>{{/runs}}</tr></thead>
<tbody>{{#params}}<tr{{#differs}} class="differs"{{/differs}}><td class="stick gv"><code title="{{key}}">{{{name}}}</code></td>{{#values}}<td class="cell">{{.}}</td>{{/values}}</tr>{{/params}}</tbody></table></div>
{{^params}}<p class="muted">Every parameter has the same value in these runs.</p>{{/params}}
<h2>Metrics</h2>
<details class="noprint chooser"><summary>Charts <span class="muted small">{{count(charts)}} shown</span></summary>
<input type="search" class="filter" data-filter-choices="chart-choices" placeholder="Search metrics" aria-label="Search metrics">
<div id="chart-choices" class="choices"><fieldset><legend>Metrics</legend>{{#chartOptions}}<label title="{{key}}"><input type="checkbox" name="chart" value="{{key}}" form="cmp" {{#selected}}checked{{/selected}}> <code>{{label}}</code></label>{{/chartOptions}}</fieldset></div>
<p><button form="cmp">Show charts</button></p></details>
<div class="grid">{{#charts}}<figure class="card chart-card" data-key="{{key}}"><figcaption><code title="{{key}}">{{{label}}}</code> <span class="muted small">{{points}} run(s)</span> <span class="small" id="{{readout}}"></span></figcaption>{{{svg}}}</figure>{{/charts}}</div>
<h2>Parallel coordinates</h2>
<details class="noprint chooser"><summary>Axes</summary>
<input type="search" class="filter" data-filter-choices="axis-choices" placeholder="Search parameters" aria-label="Search parameters">
<div id="axis-choices" class="choices"><fieldset><legend>Parameters (the differing ones first)</legend>{{#axisOptions}}<label title="{{key}}"><input type="checkbox" name="axis" value="{{key}}" form="cmp" {{#selected}}checked{{/selected}}> <code>{{label}}</code></label>{{/axisOptions}}</fieldset></div></details>
<p class="inline noprint"><label>Metric <select name="metric" form="cmp">{{#metricOptions}}<option value="{{key}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/metricOptions}}</select></label> <button form="cmp">Draw</button></p>
<div class="wide-chart" id="parallel">{{{parallel}}}</div>
{{^parallel}}<p class="muted">Choose parameters as axes (no parameter differs between these runs).</p>{{/parallel}}
<h2>One parameter against one metric</h2>
<p class="inline noprint"><label>Parameter <select name="param" form="cmp">{{#paramOptions}}<option value="{{key}}" {{#selected}}selected{{/selected}}>{{label}}</option>{{/paramOptions}}</select></label> <button form="cmp">Plot</button></p>
<div class="half">{{{scatter}}}</div>
{{> footer}}
"""#

    static let models = #"""
{{> header}}
<h1>Registered models</h1>
<div class="scroll"><table><thead><tr><th>Name</th><th>Latest</th><th>Aliases</th><th>Description</th></tr></thead><tbody>
{{#models}}<tr><td><a href="/models/{{urlName}}"><bdi>{{name}}</bdi></a></td><td>v{{latest}}</td><td>{{#aliases}}<span class="badge ok">@{{.}}</span> {{/aliases}}</td><td class="small">{{description}}</td></tr>{{/models}}
</tbody></table></div>{{^models}}<p class="muted">No registered models yet.</p>{{/models}}
{{> footer}}
"""#

    static let model = #"""
{{> header}}
<h1><bdi>{{name}}</bdi></h1><p>{{description}}</p>
<h2>Versions</h2>
<div class="scroll"><table><thead><tr><th>Version</th><th>Stage</th><th>Aliases</th><th>Source run</th><th>Created</th><th></th></tr></thead><tbody>
{{#versions}}<tr><td><a href="/models/{{urlName}}/versions/{{version}}">v{{version}}</a></td><td>{{stage}}</td><td>{{#aliases}}<span class="badge ok">@{{.}}</span> {{/aliases}}</td><td>{{#runID}}<a href="/runs/{{runID}}">{{runID}}</a>{{/runID}}</td><td class="small muted">{{created}}</td><td><a href="/lineage?model={{urlName}}&amp;version={{version}}">lineage</a></td></tr>{{/versions}}
</tbody></table></div>
<h2>History</h2>
<table><thead><tr><th>When</th><th>Version</th><th>Change</th><th>Who</th></tr></thead><tbody>
{{#history}}<tr><td class="small">{{when}}</td><td>{{version}}</td><td>{{kind}} {{detail}}</td><td>{{actor}}</td></tr>{{/history}}</tbody></table>
{{> footer}}
"""#

    static let modelVersion = #"""
{{> header}}
<p class="small"><a href="/models/{{urlName}}"><bdi>{{name}}</bdi></a></p>
<h1><bdi>{{name}}</bdi> v{{version}}</h1>
<p>{{stage}} {{#aliases}}<span class="badge ok">@{{.}}</span> {{/aliases}}<span class="muted small">created {{created}}</span></p>{{#description}}<p>{{description}}</p>{{/description}}
<p class="small">Source <code class="wrap">{{source}}</code>{{#runID}} · run <a href="/runs/{{runID}}">{{runID}}</a>{{/runID}} · <a href="/lineage?model={{urlName}}&amp;version={{version}}">lineage</a></p>
<h2>Release gates</h2>
{{#gates}}<section class="card"><h3><span class="badge {{cls}}">{{decision}}</span> {{when}}{{#who}} by <bdi>{{who}}</bdi>{{/who}}{{#commit}} · commit <code>{{commit}}</code>{{/commit}}{{#promoted}} · moved <span class="badge ok">@{{promoted}}</span> here{{/promoted}}</h3>
{{#sets}}<div class="scroll"><table><caption>{{name}} (n = {{n}})</caption><thead><tr><th>Metric</th><th class="num">Baseline</th><th class="num">Candidate</th><th class="num">Difference</th><th>95% interval</th><th>Rule</th><th>Verdict</th></tr></thead><tbody>
{{#metrics}}<tr><td>{{name}}</td><td class="num">{{baseline}}</td><td class="num">{{candidate}}</td><td class="num">{{difference}}</td><td>{{interval}}</td><td>{{rule}}</td><td><span class="badge {{cls}}">{{verdict}}</span></td></tr>{{/metrics}}</tbody></table></div>{{/sets}}
<details><summary>Report (Markdown)</summary><pre class="wrap">{{report}}</pre></details></section>{{/gates}}
{{^gates}}<p class="muted">No gate has judged this version. In CI: <code>ensemble gate … --model {{name}} --version {{version}}</code>.</p>{{/gates}}
<h2>Deployments</h2>
{{#deploymentList}}{{> deploymentRows}}{{/deploymentList}}
<h2>A/B tests</h2>
{{> abResults}}
<h2>Handoffs</h2>
{{> handoffRows}}
{{> footer}}
"""#

    static let deployments = #"""
{{> header}}
<h1>What runs where</h1>
{{#environments}}<section class="card"><h2>{{name}} <span class="badge">{{kind}}</span></h2>{{#region}}<p class="small muted">{{region}}</p>{{/region}}{{#url}}<p class="small"><code class="wrap">{{url}}</code></p>{{/url}}
{{> deploymentRows}}</section>{{/environments}}
{{^environments}}<p class="muted">No environments yet. CI/CD records them: <code>ensemble deploy env add production --kind online</code>, then <code>ensemble deploy record --model NAME --version N --env production</code> (docs/PRODUCTION.md).</p>{{/environments}}
<h2>Changes</h2>
{{^empty(changes)}}<div class="scroll"><table><thead><tr><th>When</th><th>Model</th><th>Environment</th><th>Status</th><th class="num">Traffic</th><th>Who</th><th>Commit</th><th>Note</th></tr></thead><tbody>
{{#changes}}<tr><td class="small nowrap">{{when}}</td><td><a href="{{modelURL}}"><bdi>{{{modelHTML}}}</bdi></a></td><td>{{environment}}</td><td class="nowrap"><span class="badge {{statusClass}}">{{status}}</span></td><td class="num">{{traffic}}</td><td><bdi>{{by}}</bdi></td><td>{{#commit}}<code>{{commit}}</code>{{/commit}}</td><td class="small">{{note}}</td></tr>{{/changes}}
</tbody></table></div>{{/empty(changes)}}{{#empty(changes)}}<p class="muted">Nothing deployed yet.</p>{{/empty(changes)}}
{{> footer}}
"""#

    static let abResults = #"""
{{#abTests}}<section class="card"><h3>{{title}} <span class="small muted">{{when}}</span></h3>
<p>{{#treatmentModel}}<a href="{{treatmentURL}}"><bdi>{{treatmentModel}}</bdi></a>{{/treatmentModel}}{{^treatmentModel}}treatment{{/treatmentModel}} against {{#controlModel}}<a href="{{controlURL}}"><bdi>{{controlModel}}</bdi></a>{{/controlModel}}{{^controlModel}}control{{/controlModel}}</p>
{{#srmFlagged}}<p class="error">Sample ratio mismatch: the split is off by more than chance allows; do not trust the lifts.</p>{{/srmFlagged}}
<p><strong>{{summary}}</strong></p>
<div class="scroll"><table><thead><tr><th>Metric</th><th class="num">Control</th><th class="num">New</th><th class="num">Relative</th><th>95% CI (absolute)</th><th class="num">Holm p</th><th class="num">Baseline</th><th class="num">Target</th><th></th></tr></thead><tbody>
{{#metrics}}<tr><td>{{name}}{{#guardrail}} <span class="badge">guardrail</span>{{/guardrail}}</td><td class="num">{{control}}</td><td class="num">{{treatment}}</td><td class="num"><span class="badge {{cls}}">{{relative}}</span></td><td class="nowrap">{{interval}}</td><td class="num">{{p}}</td><td class="num">{{baseline}}</td><td class="num">{{target}}</td><td>{{#targetVerdict}}<span class="badge {{targetClass}}">{{targetVerdict}}</span>{{/targetVerdict}}</td></tr>{{/metrics}}
</tbody></table></div></section>{{/abTests}}{{#empty(abTests)}}<p class="muted">No A/B test stored. <code>ensemble ab users.csv --control A --metric conversion --project ID</code> keeps one here.</p>{{/empty(abTests)}}
"""#

    static let deployment = #"""
{{> header}}
<p class="small"><a href="/deployments">What runs where</a>{{#project}} · project <a href="/projects/{{project}}">{{project}}</a>{{/project}}</p>
<h1><a href="{{modelURL}}"><bdi>{{{modelHTML}}}</bdi></a> in {{environment}} <span class="badge {{statusClass}}">{{status}}</span></h1>
<p>Traffic {{traffic}}</p>
<p>Reference data: {{#reference}}<a href="{{referenceURL}}"><bdi>{{{referenceHTML}}}</bdi></a> <span class="muted small">({{referenceSource}})</span>{{/reference}}{{#referenceMissing}}<span class="muted small">none known. {{referenceMissing}}</span>{{/referenceMissing}}</p>
<h2>Drift by window</h2>
{{^empty(windows)}}<p class="small muted">Each cell is the column's distance from the reference (Wasserstein over the reference's standard deviation for numbers, Jensen–Shannon for categories); red where the column drifted. Hover for the p-value.</p>
<div class="scroll"><table class="heat"><thead><tr><th>Column</th>{{#windows}}<th>{{.}}</th>{{/windows}}</tr></thead><tbody>
<tr><th scope="row">drift share</th>{{#shares}}<td class="num {{cls}}" title="{{title}}">{{text}}</td>{{/shares}}</tr>
{{#heat}}<tr><th scope="row"><bdi>{{column}}</bdi> <span class="muted small">{{kind}}</span></th>{{#cells}}<td class="num {{cls}}" title="{{title}}">{{text}}</td>{{/cells}}</tr>{{/heat}}
</tbody></table></div>{{/empty(windows)}}{{#empty(windows)}}<p class="muted">No window yet. A monitoring job stores one with <code>ensemble drift {{^reference}}reference.csv {{/reference}}window.csv --deployment {{id}}</code>.</p>{{/empty(windows)}}
{{^empty(charts)}}<h2>Production metrics</h2><div class="grid">{{#charts}}<figure class="card chart-card"><figcaption><code>{{name}}</code> <span class="muted small">{{claim}}</span> <span class="small" id="{{readout}}"></span></figcaption>{{{svg}}}</figure>{{/charts}}</div>{{/empty(charts)}}
<h2>History</h2>
<div class="scroll"><table><thead><tr><th>When</th><th>Status</th><th class="num">Traffic</th><th>Who</th><th>Commit</th><th>Note</th></tr></thead><tbody>
{{#changes}}<tr><td class="small nowrap">{{when}}</td><td class="nowrap"><span class="badge {{statusClass}}">{{status}}</span></td><td class="num">{{traffic}}</td><td><bdi>{{by}}</bdi></td><td>{{#commit}}<code>{{commit}}</code>{{/commit}}</td><td class="small">{{note}}</td></tr>{{/changes}}
</tbody></table></div>
{{> footer}}
"""#

    static let deploymentRows = #"""
{{^empty(rows)}}<div class="scroll"><table><thead><tr><th>Model</th><th>Environment</th><th>Status</th><th class="num">Traffic</th><th>Since</th><th>By</th><th>Commit</th></tr></thead><tbody>
{{#rows}}<tr><td><a href="{{modelURL}}"><bdi>{{{modelHTML}}}</bdi></a></td><td><a href="/deployments/{{id}}">{{environment}}</a></td><td class="nowrap"><span class="badge {{statusClass}}">{{status}}</span></td><td class="num">{{traffic}}</td><td class="small muted nowrap">{{updated}}</td><td><bdi>{{by}}</bdi></td><td>{{#commit}}<code>{{commit}}</code>{{/commit}}</td></tr>{{/rows}}
</tbody></table></div>{{/empty(rows)}}{{#empty(rows)}}<p class="muted">No deployments.</p>{{/empty(rows)}}
"""#

    static let handoffRows = #"""
{{^empty(handoffs)}}<div class="scroll"><table><thead><tr><th>#</th><th>Title</th><th>Status</th><th>Model</th><th>From</th><th>To</th><th>Checks</th><th>Updated</th></tr></thead><tbody>{{/empty(handoffs)}}
{{#handoffs}}<tr><td class="nowrap"><a href="/handoffs/{{id}}">#{{id}}</a></td><td><a href="/handoffs/{{id}}"><bdi>{{title}}</bdi></a></td><td class="nowrap"><span class="badge {{statusClass}}">{{status}}</span></td><td><a href="{{modelURL}}"><bdi>{{{modelHTML}}}</bdi></a></td><td class="nowrap"><bdi>{{sender}}</bdi></td><td class="nowrap"><bdi>{{receiver}}</bdi></td><td class="small">{{checks}}</td><td class="small muted">{{updated}}</td></tr>{{/handoffs}}
{{^empty(handoffs)}}</tbody></table></div>{{/empty(handoffs)}}{{#empty(handoffs)}}<p class="muted">No handoffs.</p>{{/empty(handoffs)}}
"""#

    static let handoffs = #"""
{{> header}}
<h1>{{heading}}</h1>
{{^empty(inbox)}}<h2>Waiting for you</h2>
<div class="scroll"><table><tbody>{{/empty(inbox)}}{{#inbox}}<tr><td><a href="/handoffs/{{id}}">#{{id}} <bdi>{{title}}</bdi></a></td><td><bdi>{{{modelHTML}}}</bdi></td><td>from <bdi>{{sender}}</bdi></td><td class="small">{{checks}}</td></tr>{{/inbox}}{{^empty(inbox)}}</tbody></table></div><h2>All handoffs</h2>{{/empty(inbox)}}
<form class="inline" method="get" action="/handoffs"><label>Status <select name="status"><option value="">any</option>{{#statuses}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/statuses}}</select></label>
<label>To <input type="text" name="to" value="{{to}}"></label><label>From <input type="text" name="from" value="{{from}}"></label><label>Project <input type="text" name="project" value="{{project}}"></label><button>Filter</button></form>
{{^empty(rows)}}<div class="scroll"><table><thead><tr><th>#</th><th>Title</th><th>Status</th><th>Model</th><th>From</th><th>To</th><th>Project</th><th>Checks</th><th>Updated</th></tr></thead><tbody>{{/empty(rows)}}
{{#rows}}<tr><td class="nowrap"><a href="/handoffs/{{id}}">#{{id}}</a></td><td><a href="/handoffs/{{id}}"><bdi>{{title}}</bdi></a></td><td class="nowrap"><span class="badge {{statusClass}}">{{status}}</span></td><td><a href="{{modelURL}}"><bdi>{{{modelHTML}}}</bdi></a></td><td class="nowrap"><bdi>{{sender}}</bdi></td><td class="nowrap"><bdi>{{receiver}}</bdi></td><td>{{#project}}<a href="/projects/{{project}}">{{project}}</a>{{/project}}</td><td class="small">{{checks}}</td><td class="small muted">{{updated}}</td></tr>{{/rows}}
{{^empty(rows)}}</tbody></table></div>{{/empty(rows)}}{{#empty(rows)}}<p class="muted">No handoffs match. A data scientist starts one with <code>ensemble handoff submit handoff.json</code> (docs/HANDOFF.md).</p>{{/empty(rows)}}
{{> footer}}
"""#

    static let handoff = #"""
{{> header}}
<p class="small"><a href="/handoffs">Handoffs</a>{{#project}} · project <a href="/projects/{{project}}">{{project}}</a>{{/project}}</p>
<h1>#{{id}} <bdi>{{heading}}</bdi> <span class="badge {{statusClass}}">{{status}}</span></h1>
<p><a href="{{modelURL}}"><bdi>{{{modelHTML}}}</bdi></a> from <bdi>{{sender}}</bdi> to <bdi>{{receiver}}</bdi></p>
{{#error}}<p class="error">{{error}}</p>{{/error}}
{{#canDecide}}<p class="noprint"><a href="#decide">Accept or return it</a> after reading the claims.</p>{{/canDecide}}
<div class="grid">
<section class="card"><h2>Contract</h2><table class="props"><tbody>{{#contract}}<tr><td class="name"><code title="{{name}}">{{{nameHTML}}}</code></td><td class="value">{{value}}{{#prefilled}} <span class="muted small">(from the model)</span>{{/prefilled}}</td></tr>{{/contract}}</tbody></table>{{^contract}}<p class="muted">Nothing given.</p>{{/contract}}</section>
<section class="card"><h2>Evaluation sets</h2><table><tbody>{{#sets}}<tr><th scope="row">{{name}}</th><td class="small">{{task}}; {{columns}}<br>{{file}}{{#dataset}}<br>data {{dataset}}{{/dataset}}</td></tr>{{/sets}}</tbody></table></section>
</div>
<h2>Claims, recomputed</h2>{{#checked}}<p class="small muted">Checked {{checked}}: Ensemble recomputed every claim from the predictions and labels.</p>{{/checked}}{{^checked}}<p class="muted">Not checked yet: claims are recomputed when the sender submits.</p>{{/checked}}
{{#missing}}<p class="error">{{.}}</p>{{/missing}}
<div class="scroll"><table><thead><tr><th>Set</th><th>Metric</th><th class="num">Claimed</th><th class="num">Recomputed</th><th class="num">Difference</th><th class="num">Tolerance</th><th>Outcome</th></tr></thead><tbody>
{{#claims}}<tr><td class="nowrap">{{set}}</td><td class="nowrap">{{metric}}</td><td class="num">{{claimed}}</td><td class="num">{{recomputed}}</td><td class="num nowrap">{{difference}}</td><td class="num">{{tolerance}}</td><td><span class="badge {{cls}}">{{outcome}}</span>{{#note}} <span class="small">{{note}}</span>{{/note}}</td></tr>{{/claims}}</tbody></table></div>
{{^empty(targets)}}<h2>Against the project's targets</h2><div class="scroll"><table><thead><tr><th>Metric</th><th>Set</th><th class="num">Value</th><th class="num">Baseline</th><th class="num">Target</th><th></th></tr></thead><tbody>{{/empty(targets)}}
{{#targets}}<tr><td>{{metric}}</td><td>{{set}}</td><td class="num">{{value}}</td><td class="num">{{baseline}}</td><td class="num">{{target}}</td><td><span class="badge {{cls}}">{{verdict}}</span></td></tr>{{/targets}}
{{^empty(targets)}}</tbody></table></div>{{/empty(targets)}}
{{#canDecide}}<h2 id="decide">Decision</h2><form class="noprint" method="post" action="/handoffs/{{id}}/decision">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}
<label>Comment, or the reason for returning it<br><textarea name="text" rows="2" cols="60"></textarea></label><br><button name="decision" value="accept">Accept</button> <button name="decision" value="return" class="secondary">Return to sender</button></form>{{/canDecide}}
<h2>History</h2>
<table><thead><tr><th>When</th><th>Who</th><th>What</th><th></th></tr></thead><tbody>{{#events}}<tr><td class="small">{{when}}</td><td><bdi>{{who}}</bdi></td><td>{{kind}}</td><td class="wrap">{{text}}</td></tr>{{/events}}</tbody></table>
{{> footer}}
"""#

    static let lineage = #"""
{{> header}}
<h1>Lineage of {{root}}</h1>
{{{svg}}}
<div class="scroll"><table><thead><tr><th>From</th><th>Relation</th><th>To</th></tr></thead><tbody>
{{#edges}}<tr><td>{{fromKind}}: {{fromLabel}}</td><td class="muted">{{relation}}</td><td>{{toKind}}: {{toLabel}}</td></tr>{{/edges}}</tbody></table></div>
{{^edges}}<p class="muted">Nothing is linked yet.</p>{{/edges}}
<p class="small muted">Also as JSON and Graphviz DOT: <a href="{{apiURL}}">{{apiURL}}</a></p>
{{> footer}}
"""#

    static let team = #"""
{{> header}}
<h1>Team</h1>
<div class="scroll"><table><thead><tr><th>Name</th><th>Roles</th><th>Works on</th><th class="num">Free</th><th class="num">Success</th><th>Learning</th></tr></thead><tbody>
{{#people}}<tr><td><a href="/people/{{id}}"><bdi>{{name}}</bdi></a></td><td class="small">{{roles}}</td><td class="small">{{#worksOn}}<a href="/projects/{{project}}">{{project}}</a> {{share}} {{/worksOn}}</td><td class="num">{{free}}</td><td class="num">{{success}}</td><td class="small muted">{{learning}}</td></tr>{{/people}}
</tbody></table></div>{{^people}}<p class="muted">Nobody yet: <code>ensemble team import people.csv</code> or <code>ensemble demo</code>.</p>{{/people}}
<h2>Skills matrix</h2>
<div class="scroll"><table class="heat"><thead><tr><th>Person</th>{{#skills}}<th title="{{.}}">{{.}}</th>{{/skills}}</tr></thead><tbody>
{{#matrix}}<tr><td><bdi>{{name}}</bdi></td>{{#levels}}<td class="lvl lvl{{.}}">{{.}}</td>{{/levels}}</tr>{{/matrix}}</tbody></table></div>
<h2>Coverage gaps</h2>
<div class="grid"><div class="card"><h3>Stages</h3><ul>{{#stageGaps}}<li>{{subject}}: {{who}}</li>{{/stageGaps}}</ul>{{^stageGaps}}<p class="muted">Every stage has two or more people.</p>{{/stageGaps}}</div>
<div class="card"><h3>Skills</h3><ul>{{#skillGaps}}<li>{{subject}}: {{who}}</li>{{/skillGaps}}</ul></div>
<div class="card"><h3>Roles nobody holds</h3><p>{{missingRoles}}</p></div></div>
{{> footer}}
"""#

    static let person = #"""
{{> header}}
<h1><bdi>{{name}}</bdi></h1><p class="muted">{{email}} · {{roles}}</p>
<div class="grid">
<section class="card"><h2>Skills</h2><dl class="kv">{{#skills}}<dt>{{key}}</dt><dd>{{value}}/5</dd>{{/skills}}</dl></section>
<section class="card"><h2>Capacity</h2><p>{{capacity}} of a week, {{free}} free</p><ul>{{#assignments}}<li><a href="/projects/{{project}}">{{project}}</a> {{share}}</li>{{/assignments}}</ul></section>
<section class="card"><h2>Learning goals</h2><p>{{learning}}</p><h2>Expertise</h2><p>{{expertise}}</p></section>
<section class="card"><h2>History</h2><p>Success rate: <strong>{{success}}</strong></p><ul>{{#history}}<li>{{project}} — {{outcome}}</li>{{/history}}</ul></section>
</div>
<h2>Edit skills</h2>
<form class="noprint" method="post" action="/people/{{id}}/skills">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}
<label>Skills (skill:level, separated by ;)<br><input type="text" name="skills" value="{{skillsText}}" size="60"></label><br>
<label>Learning goals (separated by ;)<br><input type="text" name="learning" value="{{learningText}}" size="60"></label>
<p><button type="submit">Save</button></p></form>
{{> footer}}
"""#

    static let projects = #"""
{{> header}}
<h1>Projects</h1>
<p class="noprint"><a href="/projects/new">New project</a></p>
{{> board}}
<h2>Portfolio <span class="muted small">{{freeFTE}} FTE free next quarter</span></h2>
<div class="scroll"><table><thead><tr><th>#</th><th>Project</th><th>Stage</th><th class="num">Score</th><th class="num">FTE</th><th>Fits</th><th>Why</th></tr></thead><tbody>
{{#portfolio}}<tr><td>{{rank}}</td><td><a href="/projects/{{project}}"><bdi>{{name}}</bdi></a></td><td>{{stage}}</td><td class="num">{{score}}</td><td class="num">{{fte}}</td><td><span class="badge {{fitClass}}">{{fits}}</span></td><td class="small">{{note}}</td></tr>{{/portfolio}}
</tbody></table></div>
{{> footer}}
"""#

    static let project = #"""
{{> header}}
<h1><bdi>{{name}}</bdi> <span class="badge">{{stage}}</span></h1>
<div class="grid">
<section class="card"><h2>Business requirements</h2><dl class="kv"><dt>Problem</dt><dd>{{problem}}</dd><dt>Objective</dt><dd>{{objective}}</dd><dt>ML framing</dt><dd>{{framing}}</dd><dt>Delivery</dt><dd>{{delivery}}</dd><dt>Risks</dt><dd>{{risks}}</dd><dt>Stakeholders</dt><dd>{{stakeholders}}</dd></dl></section>
<section class="card"><h2>Metrics</h2><table><thead><tr><th>Metric</th><th class="num">Baseline</th><th class="num">Target</th><th class="num">Best run</th></tr></thead><tbody>
{{#metrics}}<tr><td><bdi>{{name}}</bdi> <span class="muted small">{{kind}}</span></td><td class="num">{{baseline}}</td><td class="num">{{target}}</td><td class="num">{{#bestRun}}<a href="/runs/{{bestRun}}">{{best}}</a>{{/bestRun}}{{^bestRun}}—{{/bestRun}}</td></tr>{{/metrics}}</tbody></table></section>
</div>
<h2>Forecast</h2>
{{#due}}<p>Due <strong>{{date}}</strong>{{#verdict}} — <span class="badge {{cls}}">{{verdict}}</span>{{/verdict}}</p>{{/due}}
{{#forecast}}<p>P50 <strong>{{p50}}</strong> · P80 <strong>{{p80}}</strong> · P95 <strong>{{p95}}</strong> <span class="muted small">({{trials}} trials, working days from {{start}})</span></p>{{{svg}}}{{/forecast}}
{{^forecast}}<p class="muted">No tasks with estimates yet.</p>{{/forecast}}
<div class="grid">
<section class="card"><h2>Stage history</h2><ul>{{#history}}<li><span class="muted small">{{when}}</span> {{from}} → {{to}}{{#by}} by {{by}}{{/by}}{{#why}}: {{why}}{{/why}}</li>{{/history}}</ul>{{^history}}<p class="muted">No moves yet.</p>{{/history}}</section>
<section class="card"><h2>Staffing for {{stage}}</h2><ol>{{#staffing}}<li><a href="/people/{{person}}"><bdi>{{name}}</bdi></a> <span class="muted small">{{score}}</span><div class="small">{{reasons}}</div></li>{{/staffing}}</ol></section>
<section class="card"><h2>Links</h2><p>Experiments: {{#experiments}}<a href="/experiments?q={{.}}">{{.}}</a> {{/experiments}}</p><p>Models: {{#models}}<a href="/models/{{.}}">{{.}}</a> {{/models}}</p><p><a href="/handoffs?project={{id}}">Handoffs</a></p></section>
</div>
<h2>Gate: leaving {{stage}}</h2>
<form class="noprint" method="post" action="/projects/{{id}}/checklist">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}
<ul class="plain">{{#checklist}}<li><label><input type="checkbox" name="item[]" value="{{index}}" {{#done}}checked{{/done}}> {{text}}</label></li>{{/checklist}}</ul>
{{^checklist}}<p class="muted">No checklist for this stage.</p>{{/checklist}}<p><button type="submit">Save checklist</button></p></form>
<form class="inline noprint" method="post" action="/projects/{{id}}/stage">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}<label>Move to <select name="to">{{#stageOptions}}<option value="{{.}}">{{.}}</option>{{/stageOptions}}</select></label>
<input type="text" name="why" placeholder="why" aria-label="why">{{^chromeUser}}<input type="text" name="by" placeholder="who" aria-label="who">{{/chromeUser}}<button>Move</button></form>
{{#gateError}}<p class="error">{{gateError}}</p>{{/gateError}}
<p class="noprint"><a href="/projects/{{id}}/edit">Edit the project and its BRD</a></p>
<h2>Handoffs</h2>
{{> handoffRows}}
<h2>Deployments</h2>
{{#deploymentList}}{{> deploymentRows}}{{/deploymentList}}
<h2>A/B tests</h2>
{{> abResults}}
<h2>Updates</h2>
<form class="noprint" method="post" action="/projects/{{id}}/updates">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}
<div class="grid">{{^chromeUser}}<label>Author<br><input type="text" name="author" required></label>{{/chromeUser}}<label>Done<br><textarea name="done" rows="2"></textarea></label><label>Next<br><textarea name="next" rows="2"></textarea></label><label>Blocked<br><textarea name="blocked" rows="2"></textarea></label></div>
<p><button type="submit">Post update</button></p></form>
<ul>{{#activity}}<li><span class="muted small">{{when}}</span> <span class="badge">{{kind}}</span> {{summary}}{{#actor}} <span class="muted">— {{actor}}</span>{{/actor}}</li>{{/activity}}</ul>
{{> footer}}
"""#

    static let projectForm = #"""
{{> header}}
<h1>{{heading}}</h1>
{{#error}}<p class="error">{{error}}</p>{{/error}}
<form method="post" action="{{action}}">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}
<div class="grid">
<label>Name<br><input type="text" name="name" value="{{name}}" dir="auto" required></label>
<label>Problem<br><textarea name="problem" rows="3">{{problem}}</textarea></label>
<label>Business objective<br><textarea name="objective" rows="3">{{objective}}</textarea></label>
<label>ML framing<br><textarea name="framing" rows="3">{{framing}}</textarea></label>
<label>How the model reaches users<br><textarea name="delivery" rows="3">{{delivery}}</textarea></label>
<label>Risks (one per line)<br><textarea name="risks" rows="3">{{risks}}</textarea></label>
<label>Stakeholders (one per line)<br><textarea name="stakeholders" rows="3">{{stakeholders}}</textarea></label>
<label>Technical metrics (name, baseline, target; one per line)<br><textarea name="technical" rows="3">{{technical}}</textarea></label>
<label>Business metrics (name, baseline, target; one per line)<br><textarea name="business" rows="3">{{business}}</textarea></label>
<label>Experiments (comma-separated)<br><input type="text" name="experiments" value="{{experiments}}"></label>
<label>Registered models (comma-separated)<br><input type="text" name="models" value="{{models}}"></label>
<label>Required FTE<br><input type="text" name="fte" value="{{fte}}"></label>
</div>
<h2>Scores (1 low – 5 high)</h2>
<div class="grid">{{#scores}}<label>{{label}}<br><select name="{{key}}">{{#options}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{value}}</option>{{/options}}</select></label>{{/scores}}</div>
<p><button type="submit">Save</button> <a href="{{cancel}}">Cancel</a></p>
</form>
{{> footer}}
"""#

    static let datasets = #"""
{{> header}}
<h1>Datasets</h1>
<div class="scroll"><table><thead><tr><th>Name</th><th class="num">Stored versions</th><th class="num">Logged digests</th></tr></thead><tbody>
{{#datasets}}<tr><td><a href="/datasets/{{urlName}}"><bdi>{{name}}</bdi></a></td><td class="num">{{stored}}</td><td class="num">{{logged}}</td></tr>{{/datasets}}
</tbody></table></div>{{^datasets}}<p class="muted">No datasets yet: <code>ensemble dataset add NAME PATH</code>, or log inputs from runs.</p>{{/datasets}}
{{> footer}}
"""#

    static let dataset = #"""
{{> header}}
<h1><bdi>{{name}}</bdi></h1>
<h2>Stored versions</h2>
{{#stored}}<section class="card"><h3>v{{version}} <span class="muted small">{{files}} file(s), {{size}} bytes, {{when}}{{#by}} by {{by}}{{/by}}</span></h3>
<p class="small">{{description}} <span class="muted">digest {{digest}}</span></p>
<details><summary>Manifest</summary><table><thead><tr><th>Path</th><th class="num">Size</th><th>SHA-256</th></tr></thead><tbody>{{#manifest}}<tr><td>{{path}}</td><td class="num">{{size}}</td><td class="small muted">{{sha}}</td></tr>{{/manifest}}</tbody></table></details>
<p class="small">Used by: {{#users}}<a href="/runs/{{runID}}"><bdi>{{runName}}</bdi></a> ({{context}}) {{/users}}{{^users}}<span class="muted">no run yet</span>{{/users}}</p></section>{{/stored}}
{{^stored}}<p class="muted">None.</p>{{/stored}}
<h2>Digests logged by runs</h2>
<div class="scroll"><table><thead><tr><th>Digest</th><th>Source</th><th>Runs</th></tr></thead><tbody>
{{#logged}}<tr><td>{{digest}}</td><td class="small">{{sourceType}}</td><td>{{#users}}<a href="/runs/{{runID}}"><bdi>{{runName}}</bdi></a> ({{context}}) {{/users}}</td></tr>{{/logged}}</tbody></table></div>
{{> footer}}
"""#

    static let artifact = #"""
{{> header}}
<h1><bdi>{{name}}</bdi></h1>
<p class="muted small">Artifact of <a href="/runs/{{runID}}"><bdi>{{runName}}</bdi></a> · {{size}} bytes · <a href="{{download}}">download</a></p>
{{#image}}<img src="{{image}}" alt="{{name}}" style="max-width:100%">{{/image}}
{{#text}}<pre class="card" style="white-space: pre-wrap; overflow-wrap: anywhere">{{text}}</pre>{{/text}}
{{#note}}<p class="muted">{{note}}</p>{{/note}}
{{> footer}}
"""#

    static let signin = #"""
{{> header}}
<h1>Sign in</h1>
{{#error}}<p class="error">{{error}}</p>{{/error}}
<form class="card narrow" method="post" action="/signin">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}<input type="hidden" name="next" value="{{next}}">
<p><label>User name<br><input type="text" name="user" value="{{user}}" autocomplete="username" required autofocus></label></p>
<p><label>Password<br><input type="password" name="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p></form>
<p class="muted small">No account yet? An admin creates one: <code>ensemble admin create-user NAME --email E</code>.</p>
{{> footer}}
"""#

    static let account = #"""
{{> header}}
<h1><bdi>{{name}}</bdi> <span class="badge">{{role}}</span></h1>
<p class="muted">{{displayName}} · {{email}}</p>
{{#message}}<p class="notice">{{message}}</p>{{/message}}{{#error}}<p class="error">{{error}}</p>{{/error}}
{{#newToken}}<section class="card"><h2>Your new API token</h2><p>Copy it now: Ensemble keeps only its hash and cannot show it again.</p><pre class="token">{{newToken}}</pre>
<p class="small muted">Use it as <code>MLFLOW_TRACKING_TOKEN</code> for the mlflow client or <code>ENSEMBLE_TOKEN</code> for the CLI.</p></section>{{/newToken}}
<h2>API tokens</h2>
<div class="scroll"><table><thead><tr><th>Name</th><th>Token</th><th>Created</th><th>Expires</th><th>Last used</th><th>State</th><th></th></tr></thead><tbody>
{{#tokens}}<tr><td>{{name}}</td><td><code>{{hint}}</code></td><td class="small">{{created}}</td><td class="small">{{expires}}</td><td class="small">{{lastUsed}}</td><td>{{state}}</td>
<td>{{#active}}<form class="inline" method="post" action="/account/tokens/{{id}}/revoke">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}<button class="link">Revoke</button></form>{{/active}}</td></tr>{{/tokens}}
</tbody></table></div>{{^tokens}}<p class="muted">No tokens yet.</p>{{/tokens}}
<form class="inline noprint" method="post" action="/account/tokens">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}<label>Name <input type="text" name="name" placeholder="laptop" maxlength="100"></label>
<label>Expires in <select name="expires_in"><option value="30d">30 days</option><option value="90d" selected>90 days</option><option value="1y">1 year</option><option value="">never</option></select></label><button>Create token</button></form>
<h2>Password</h2>
<form class="noprint" method="post" action="/account/password">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}
<div class="grid"><label>Current password<br><input type="password" name="current" autocomplete="current-password" required></label>
<label>New password (at least 12 characters)<br><input type="password" name="password" autocomplete="new-password" minlength="12" required></label></div>
<p><button type="submit">Change password</button> <span class="muted small">Signs you out everywhere else.</span></p></form>
{{> footer}}
"""#

    static let adminUsers = #"""
{{> header}}
<h1>Users</h1><p><a href="/admin/grants">Grants</a> · <a href="/admin/audit">Audit log</a></p>
{{#message}}<p class="notice">{{message}}</p>{{/message}}{{#error}}<p class="error">{{error}}</p>{{/error}}
{{#newToken}}<section class="card"><h2>The service account's new token</h2><p>Copy it now into the CI secret: it is not shown again.</p><pre class="token">{{newToken}}</pre></section>{{/newToken}}
<div class="scroll"><table><thead><tr><th>User</th><th>Name</th><th>E-mail</th><th>Kind</th><th>Role and state</th></tr></thead><tbody>
{{#users}}<tr><td><bdi>{{name}}</bdi></td><td><bdi>{{displayName}}</bdi></td><td class="small">{{email}}</td><td class="small">{{kind}}</td>
<td><form class="inline" method="post" action="/admin/users/{{name}}">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}<select name="role" aria-label="role of {{name}}">{{#roles}}<option {{#selected}}selected{{/selected}}>{{value}}</option>{{/roles}}</select>
<label><input type="checkbox" name="disabled" value="1" {{#disabled}}checked{{/disabled}}> disabled</label><button>Save</button></form>
{{#serviceAccount}}<form class="inline" method="post" action="/admin/users/{{name}}/tokens">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}<input type="text" name="name" placeholder="ci-nightly" aria-label="token name for {{name}}" maxlength="100"><button>New token</button></form>{{/serviceAccount}}</td></tr>{{/users}}
</tbody></table></div>
<h2>New user</h2>
<form class="noprint" method="post" action="/admin/users">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}<div class="grid">
<label>User name<br><input type="text" name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._@\-]{0,63}"></label>
<label>Display name<br><input type="text" name="display_name" dir="auto"></label><label>E-mail<br><input type="email" name="email"></label>
<label>Role<br><select name="role"><option>viewer</option><option selected>member</option><option>admin</option></select></label>
<label>Password (empty for a service account)<br><input type="password" name="password" autocomplete="new-password"></label></div>
<p><button type="submit">Create</button></p></form>
{{> footer}}
"""#

    static let adminGrants = #"""
{{> header}}
<h1>Grants</h1><p><a href="/admin/users">Users</a> · <a href="/admin/audit">Audit log</a></p>
<p class="muted">Everyone signed in reads everything. A member without a grant has the default permission; creators have MANAGE on what they create.</p>
{{#message}}<p class="notice">{{message}}</p>{{/message}}{{#error}}<p class="error">{{error}}</p>{{/error}}
<div class="scroll"><table><thead><tr><th>Kind</th><th>Resource</th><th>User</th><th>Permission</th></tr></thead><tbody>
{{#grants}}<tr><td class="small">{{kind}}</td><td><bdi>{{resource}}</bdi></td><td><bdi>{{user}}</bdi></td><td><span class="badge">{{permission}}</span></td></tr>{{/grants}}
</tbody></table></div>{{^grants}}<p class="muted">No grants yet.</p>{{/grants}}
<h2>Set a grant</h2>
<form class="inline noprint" method="post" action="/admin/grants">{{#chromeCSRF}}<input type="hidden" name="csrf" value="{{chromeCSRF}}">{{/chromeCSRF}}
<label>User <select name="user">{{#users}}<option>{{.}}</option>{{/users}}</select></label>
<label>Kind <select name="kind">{{#kinds}}<option>{{.}}</option>{{/kinds}}</select></label>
<label>Resource <input type="text" name="resource" placeholder="experiment id, model name, project id, dataset name" required></label>
<label>Permission <select name="permission"><option>READ</option><option selected>EDIT</option><option>MANAGE</option><option value="">remove</option></select></label><button>Set</button></form>
{{> footer}}
"""#

    static let adminAudit = #"""
{{> header}}
<h1>Audit log</h1><p><a href="/admin/users">Users</a> · <a href="/admin/grants">Grants</a></p>
<form class="inline" method="get" action="/admin/audit"><label>User <input type="text" name="actor" value="{{actor}}"></label>
<label>Action starts with <input type="text" name="action" value="{{action}}" placeholder="token."></label><button>Filter</button></form>
<div class="scroll"><table><thead><tr><th>When (UTC)</th><th>Who</th><th>Action</th><th>Target</th><th class="num">Status</th><th>From</th><th>Detail</th></tr></thead><tbody>
{{#events}}<tr{{#failed}} class="differs"{{/failed}}><td class="small">{{when}}</td><td><bdi>{{actor}}</bdi></td><td class="small"><code>{{action}}</code></td><td class="small"><bdi>{{target}}</bdi></td><td class="num">{{status}}</td><td class="small nowrap">{{client}}</td><td class="small">{{detail}}</td></tr>{{/events}}
</tbody></table></div>{{^events}}<p class="muted">Nothing recorded.</p>{{/events}}
{{> footer}}
"""#

    /// Every template by name.
    static var all: [(String, String)] {
        [
            ("header", header), ("footer", footer), ("board", board), ("error", error), ("home", home), ("experiments", experiments), ("runs", runs),
            ("run", run), ("compare", compare), ("models", models), ("model", model), ("modelVersion", modelVersion), ("handoffRows", handoffRows), ("deployments", deployments), ("deployment", deployment), ("deploymentRows", deploymentRows), ("abResults", abResults), ("handoffs", handoffs), ("handoff", handoff), ("lineage", lineage), ("team", team), ("person", person),
            ("projects", projects), ("project", project), ("projectForm", projectForm), ("datasets", datasets), ("dataset", dataset), ("artifact", artifact),
            ("signin", signin), ("account", account), ("adminUsers", adminUsers), ("adminGrants", adminGrants), ("adminAudit", adminAudit),
        ]
    }

    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in all {
            // Pages render inside their envelope (`WebHandlers.render`): the page's own properties
            // first, then the chrome's. Partials are looked up where they are used.
            let wrapped = ["header", "footer", "board", "handoffRows", "deploymentRows", "abResults"].contains(name) ? text : "{{#page}}" + text + "{{/page}}"
            try library.register(wrapped, named: name)
        }
        return library
    }
}
