-- wrk script: runs/log-batch with 1000 metric points per request, all against one run.
-- Each wrk thread appends to its own series "<METRIC_KEY>-t<thread>"; request n carries steps
-- n*1000 .. n*1000+999, so every point of every request is new and the steps are distinct.
-- The body is assembled from pre-built pieces (only the step prefix changes), so that the load
-- generator stays cheap next to the server.
-- Env: RUN_ID (required), METRIC_KEY (default "b"). Prints one line prefixed with "WRKJSON ".
local threads = {}
local counter = 0
local pieces = {}
local slots = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local tid = tonumber(wrk.thread:get("tid")) or 1
  local run_id = assert(os.getenv("RUN_ID"), "RUN_ID is not set")
  local key = string.format("%s-t%d", os.getenv("METRIC_KEY") or "b", tid)
  pieces[#pieces + 1] = '{"run_id": "' .. run_id .. '", "metrics": ['
  for i = 0, 999 do
    local sep = (i == 0) and "" or ", "
    pieces[#pieces + 1] = string.format('%s{"key": "%s", "value": %d.5, "timestamp": 1700000000000, "step": ', sep, key, i)
    pieces[#pieces + 1] = ""            -- slot: the request number; step = "<n>" .. "%03d" = n*1000+i
    slots[#slots + 1] = #pieces
    pieces[#pieces + 1] = string.format('%03d}', i)
  end
  pieces[#pieces + 1] = "]}"
end

request = function()
  counter = counter + 1
  local n = tostring(counter)
  for i = 1, #slots do pieces[slots[i]] = n end
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-batch", {["Content-Type"] = "application/json"}, table.concat(pieces))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
