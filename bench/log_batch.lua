-- wrk script: runs/log-batch with 1000 metric points per request, unique steps, one run.
-- Env: RUN_ID, METRIC_KEY. Prints a JSON summary line prefixed with "WRKJSON ".
local counter = 0
local thread_id = 0
local threads = {}
local run_id = os.getenv("RUN_ID")
local key = os.getenv("METRIC_KEY") or "b"

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tonumber(wrk.thread:get("tid")) or 0
end

request = function()
  counter = counter + 1
  local base = (thread_id * 1000000 + counter) * 1000
  local parts = {}
  for i = 0, 999 do
    parts[#parts + 1] = string.format('{"key":"%s","value":%d.5,"timestamp":1700000000000,"step":%d}', key, i, base + i)
  end
  local body = '{"run_id":"' .. run_id .. '","metrics":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-batch", {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, errors, latency:percentile(50), latency:percentile(99)))
end
