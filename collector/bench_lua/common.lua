-- Shared by every ekEvents wrk script: one id prefix per thread, acknowledged ids written
-- to one file per thread, and a JSON summary line (with p95) at the end.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

counter = 0
acked = 0

function open_ack_file()
  ack_file = io.open(os.getenv("EK_ACK_DIR") .. "/acked-" .. tid, "w")
end

function record_acks(body)
  for id in string.gmatch(body, '"status":%s*"accepted",%s*"id":%s*"([^"]+)"') do
    ack_file:write(id, "\n")
    acked = acked + 1
  end
  ack_file:flush()
end

function done(summary, latency, requests)
  local acked_total = 0
  for _, t in ipairs(threads) do acked_total = acked_total + t:get("acked") end
  io.write(string.format(
    '\nEKBENCH {"requests": %d, "duration_us": %d, "errors": %d, "status_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "acked": %d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), acked_total))
end
