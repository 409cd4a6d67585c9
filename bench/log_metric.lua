-- wrk script: one runs/log-metric per request, each with a unique step, against one run.
-- Env: RUN_ID, METRIC_KEY. Prints a JSON summary line prefixed with "WRKJSON ".
local counter = 0
local thread_id = 0
local threads = {}
local run_id = os.getenv("RUN_ID")
local key = os.getenv("METRIC_KEY") or "m"

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tonumber(wrk.thread:get("tid")) or 0
end

request = function()
  counter = counter + 1
  local step = thread_id * 1000000000 + counter
  local body = string.format('{"run_id":"%s","key":"%s","value":%d.25,"timestamp":1700000000000,"step":%d}', run_id, key, counter, step)
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-metric", {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, errors, latency:percentile(50), latency:percentile(99)))
end
