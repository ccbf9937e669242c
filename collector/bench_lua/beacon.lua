-- Browser collect requests: 1–3 events each, site key, session cookie, a real user agent.
local key, session, origin = os.getenv("EK_SITE_KEY"), os.getenv("EK_SESSION"), os.getenv("EK_ORIGIN")
local pause = tonumber(os.getenv("EK_DELAY_MS") or "0")
local headers = {
  ["Content-Type"] = "text/plain", ["Origin"] = origin, ["Cookie"] = "ek_sid=" .. session,
  ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
}

function init(args)
  open_ack_file()
  math.randomseed(tid)
end

-- Paced runs wait a random time around the mean pause: browsers do not arrive in lock-step,
-- and a fixed pause would keep every connection in one burst.
function delay() return pause > 0 and math.random(0, 2 * pause) or 0 end

function request()
  counter = counter + 1
  local events = {}
  for i = 1, (counter % 3) + 1 do
    events[i] = string.format(
      '{"i":"b%d-%d-%d","n":"bench-view","t":%d,"p":{"sku":"s%d","price":9.99,"qty":2,' ..
      '"gift":true,"day":"2026-11-24","seen_at":"2026-11-24T10:00:00Z"},' ..
      '"c":{"u":"https://shop.test/p?utm_source=news","ti":"Shop","l":"en","sw":1280,"sh":800,"tz":"UTC"}}',
      tid, counter, i, 1763978400000 + counter, counter % 500)
  end
  local body = '{"k":"' .. key .. '","s":"' .. session .. '","e":[' .. table.concat(events, ",") .. ']}'
  return wrk.format("POST", "/e", headers, body)
end

function response(status, headers, body)
  if status == 200 then record_acks(body) end
end
