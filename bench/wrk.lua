-- wrk script for bench/http.py: POST the bodies of a file (one per line) in
-- turn, with an optional bearer token and content type (JSON unless given);
-- print a JSON summary. bench/capacity.lua adds a request count to it.
--   wrk -s bench/wrk.lua URL -- BODIES_FILE [TOKEN [CONTENT_TYPE]]
local threads = 0
local bodies = {}
local next_body = 0
limit = 0  -- requests per thread (bench/capacity.lua), global for it

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = (args[3] and args[3] ~= "") and args[3] or "application/json"
  if args[2] and args[2] ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. args[2]
  end
  limit = tonumber(args[4] or "0")
  -- Each thread has its own Lua state: start them at different comments,
  -- the same ones every run.
  next_body = (id * 7919) % #bodies
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d,'
    .. ' "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
