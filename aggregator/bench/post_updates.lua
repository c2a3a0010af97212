-- wrk script: POSTs the same honest update body with a distinct 16-byte nonce per request.
-- BODY_FILE names the body written by `cargo run --example bench_body`.
local threads = {}
local prefix, suffix
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local function u32le(n)
  return string.char(n % 256, math.floor(n / 256) % 256, math.floor(n / 65536) % 256, math.floor(n / 16777216) % 256)
end

function init(args)
  local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
  local body = file:read("*a")
  file:close()
  prefix = body:sub(1, 29)
  suffix = body:sub(46)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/octet-stream"
end

function request()
  counter = counter + 1
  local nonce = u32le(tid) .. u32le(counter % 4294967296) .. u32le(math.floor(counter / 4294967296)) .. "wrk!"
  return wrk.format(nil, "/v1/updates", nil, prefix .. nonce .. suffix)
end
