-- Server API batches of 100 events with a secret key.
local key = os.getenv("EK_SERVER_KEY")
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}

function init(args) open_ack_file() end

function request()
  counter = counter + 1
  local events = {}
  for i = 1, 100 do
    events[i] = string.format(
      '{"event":"bench-view","id":"a%d-%d-%d","contact":{"external_id":"c%d"},' ..
      '"timestamp":"2026-11-24T10:00:00Z","params":{"sku":"s%d","price":9.99,"qty":2,' ..
      '"gift":true,"day":"2026-11-24","seen_at":"2026-11-24T10:00:00Z"}}',
      tid, counter, i, (counter * 100 + i) % 5000, i)
  end
  return wrk.format("POST", "/api/v1/events", headers, '{"batch":[' .. table.concat(events, ",") .. ']}')
end

function response(status, headers, body)
  if status == 200 then record_acks(body) end
end
