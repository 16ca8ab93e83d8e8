-- wrk script: POST the body in the file named by the first script argument, with the Content-Type
-- of the second (default application/json) and the Accept of the third ("-" or absent: none); at
-- the end print one JSON line (requests, duration, errors, latency percentiles in µs). An
-- optional fourth argument stops each thread after that many responses (the bounded memory run).
local body_file, max_requests = nil, nil
local responses = 0

function init(args)
  body_file = args[1]
  max_requests = tonumber(args[4])
  local fh = assert(io.open(body_file, "rb"))
  wrk.body = fh:read("*a")
  fh:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[2] or "application/json"
  if args[3] and args[3] ~= "-" then wrk.headers["Accept"] = args[3] end
  if max_requests then  -- defined only here, so the timed runs pay no per-response Lua call
    response = function(status, headers, body)
      responses = responses + 1
      if responses >= max_requests then wrk.thread:stop() end
    end
  end
end


function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "err_connect": %d, "err_read": %d, ' ..
    '"err_write": %d, "err_status": %d, "err_timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
