-- wrk script for bench/capacity.py: bench/wrk.lua, and each thread stops
-- after its share of the requests and says so on stdout (bench/capacity.py
-- then ends wrk). Apart because a response() function makes wrk parse every
-- answer's headers and body, which bench/http.py's throughput should not pay.
--   wrk -s bench/capacity.lua URL -- BODIES_FILE TOKEN CONTENT_TYPE REQUESTS_PER_THREAD
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "wrk.lua")

local answered = 0

function response(status, headers, body)
  answered = answered + 1
  if answered == limit then
    io.write("thread done\n")
    io.flush()
    wrk.thread:stop()
  end
end
