-- overload.lua — wrk script for bench/overload.sh: POSTs IMAGE as the raw body and counts the answers
-- by kind across all threads: 200, 503 with Retry-After, 503 without, anything else.
local path = os.getenv("IMAGE") or "bench/cat_500x375.jpg"
local f = assert(io.open(path, "rb"), "cannot open " .. path)
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "image/jpeg"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, busy, busy_bare, other = 0, 0, 0, 0
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  elseif status == 503 then
    if headers["Retry-After"] then busy = busy + 1 else busy_bare = busy_bare + 1 end
  else
    other = other + 1
  end
end

-- one machine-readable line: answers per second by kind, socket errors, p50/p99 of all answers
function done(summary, latency, requests)
  local t = {ok = 0, busy = 0, busy_bare = 0, other = 0}
  for _, th in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + th:get(k) end
  end
  local s = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("WRK_OVERLOAD ok_s=%.2f busy_s=%.2f busy_bare=%d other=%d socket_errors=%d "
    .. "timeouts=%d p50_ms=%.1f p99_ms=%.1f seconds=%.1f\n", t.ok / s, t.busy / s, t.busy_bare, t.other,
    e.connect + e.read + e.write, e.timeout, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, s))
end
