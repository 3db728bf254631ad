-- wrk script: POST one body, with a fresh bearer token per request when a token file is given.
-- BENCH_PATH, BENCH_BODY (file), BENCH_TOKENS (prefix; thread n reads PREFIX-n.txt)
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

function init(args)
  local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
  body = f:read("*a")
  f:close()
  path = os.getenv("BENCH_PATH")
  tokens = {}
  local prefix = os.getenv("BENCH_TOKENS") or ""
  if prefix ~= "" then
    for line in io.lines(prefix .. "-" .. id .. ".txt") do
      if line ~= "" then tokens[#tokens + 1] = line end
    end
  end
  token_count = #tokens
  sent = 0
end

function request()
  sent = sent + 1
  local headers = { ["Content-Type"] = "application/json" }
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[((sent - 1) % #tokens) + 1]
  end
  return wrk.format("POST", path, headers, body)
end

-- Requests that had to reuse a token (the service refuses a replayed jti with 401).
local function reused_tokens()
  local reused = 0
  for _, thread in ipairs(threads) do
    local count = thread:get("token_count")
    if count > 0 and thread:get("sent") > count then
      reused = reused + thread:get("sent") - count
    end
  end
  return reused
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "errors": %d, "status_errors": %d, ' ..
    '"reused_tokens": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + e.status,
    e.status, reused_tokens(), latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max))
end
