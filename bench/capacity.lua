-- wrk script for bench/capacity.py: bench/wrk.lua, and each thread says on
-- stdout when it has had its share of answers; bench/capacity.py ends wrk
-- once every thread has (the few requests more are counted: the checks are
-- counted by the service). A thread is not stopped on its own: its next
-- connection, opened and never written to, held a sync gunicorn worker until
-- the worker timeout killed it. Apart from wrk.lua because a response()
-- function makes wrk parse every answer, which bench/http.py should not pay.
--   wrk -s bench/capacity.lua URL -- BODIES_FILE TOKEN CONTENT_TYPE REQUESTS_PER_THREAD
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "wrk.lua")

local answered = 0

function response(status, headers, body)
  answered = answered + 1
  if answered == limit then
    io.write("thread done\n")
    io.flush()
  end
end
