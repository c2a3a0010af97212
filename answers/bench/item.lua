-- wrk script: GET /v1/answers/item/{id} for random ids 1..ITEMS (Diginetica's dense ids);
-- DELAY_MS > 0 paces each connection (connections x 1000 / (DELAY_MS + latency) requests/s).
local items = tonumber(os.getenv("ITEMS") or "43097")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
math.randomseed(7)

request = function()
  return wrk.format("GET", "/v1/answers/item/" .. math.random(1, items))
end

delay = function()
  return delay_ms
end
