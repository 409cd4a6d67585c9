-- wrk script: runs/log-batch with 1000 metric points per request against one run: every request
-- logs steps 0..999 of a new series (key "<METRIC_KEY>-<thread>-<n>"), so every point is new.
-- The body is assembled from pre-built pieces so that the load generator, not the server, stays cheap.
-- Env: RUN_ID, METRIC_KEY. Prints a JSON summary line prefixed with "WRKJSON ".
local counter = 0
local thread_id = 0
local threads = {}
local pieces = {}
local slots = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tonumber(wrk.thread:get("tid")) or 0
  local run_id = os.getenv("RUN_ID")
  local key = os.getenv("METRIC_KEY") or "b"
  pieces[#pieces + 1] = '{"run_id":"' .. run_id .. '","metrics":['
  for i = 0, 999 do
    local sep = (i == 0) and "" or ","
    pieces[#pieces + 1] = sep .. '{"key":"'
    pieces[#pieces + 1] = key
    slots[#slots + 1] = #pieces
    pieces[#pieces + 1] = string.format('","value":%d.5,"step":%d,"timestamp":1700000000000}', i, i)
  end
  pieces[#pieces + 1] = "]}"
end

request = function()
  counter = counter + 1
  local series = string.format("%s-%d-%d", os.getenv("METRIC_KEY") or "b", thread_id, counter)
  for i = 1, #slots do pieces[slots[i]] = series end
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-batch", {["Content-Type"] = "application/json"}, table.concat(pieces))
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, errors, latency:percentile(50), latency:percentile(99)))
end
