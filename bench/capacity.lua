-- wrk script for bench/capacity.py: POST the bodies of a file (one per line)
-- in turn; each thread stops after its share of the requests and says so on
-- stdout (bench/capacity.py then ends wrk with SIGINT); a JSON summary at the end.
--   wrk -s bench/capacity.lua URL -- BODIES_FILE CONTENT_TYPE TOKEN REQUESTS_PER_THREAD
local threads = {}
local bodies = {}
local next_body = 0
local answered = 0
local limit = 0

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[2]
  if args[3] and args[3] ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. args[3]
  end
  limit = tonumber(args[4])
  -- Threads start at different comments, the same ones every run.
  next_body = (id * 7919) % #bodies
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[next_body])
end

function response(status, headers, body)
  answered = answered + 1
  if answered == limit then
    io.write("thread done\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d,'
    .. ' "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
