-- wrk script: one runs/log-metric per request, all against one run and one metric key.
-- Every request carries a new step (and timestamp), so every body is unique and every
-- acknowledged request must become one stored point.
--   step = STEP_BASE + thread * 1e9 + n   (n counts this thread's requests from 1)
-- Env: RUN_ID (required), METRIC_KEY (default "m"), STEP_BASE (default 0), AUTHORIZATION (an
-- Authorization header value, for the authentication phases).
-- Prints one summary line prefixed with "WRKJSON ".
local threads = {}
local counter = 0
local prefix, suffix, step_base
local headers = {["Content-Type"] = "application/json"}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local tid = tonumber(wrk.thread:get("tid")) or 1
  local base = tonumber(os.getenv("STEP_BASE") or "0") + tid * 1000000000
  local run_id = assert(os.getenv("RUN_ID"), "RUN_ID is not set")
  local key = os.getenv("METRIC_KEY") or "m"
  step_base = base
  prefix = string.format('{"run_id": "%s", "key": "%s", "value": 1.5, "timestamp": ', run_id, key)
  suffix = "}"
  local auth = os.getenv("AUTHORIZATION")
  if auth and auth ~= "" then headers["Authorization"] = auth end
end

request = function()
  counter = counter + 1
  local body = string.format('%s%d, "step": %d%s', prefix, 1700000000000 + counter, step_base + counter, suffix)
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-metric", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
