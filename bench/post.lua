-- post.lua — wrk script: every request POSTs one image file as the raw body.
-- IMAGE (path) and CONTENT_TYPE come from the environment; bench/server_load.sh sets both.
local path = os.getenv("IMAGE") or "bench/cat_500x375.jpg"
local f = assert(io.open(path, "rb"), "cannot open " .. path)
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "image/jpeg"

-- one machine-readable line at the end: requests/s, p50/p99 in ms, errors (non-2xx + socket errors)
done = function(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout + e.status
  io.write(string.format("WRK_RESULT rps=%.2f p50_ms=%.2f p99_ms=%.2f errors=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, errors, summary.requests))
end
