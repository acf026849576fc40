-- wrk script: POST pre-signed Make.com webhooks, each a NEW delivery (its own webhook-id and
-- body), read from the file named by BENCH_REQUESTS: one request a line,
-- "<path>\t<webhook-id>\t<webhook-timestamp>\t<webhook-signature>\t<body>".
-- Requests are formatted once in init() so the load generator spends its time on the socket.
-- Threads take disjoint slices (thread k sends lines k, k+T, k+2T, ...), so no two requests
-- are the same delivery; running out of lines wraps around (then the hub answers 200
-- "duplicate", counted below as not-202).

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

local formatted = {}
local next_index = 1
not202 = 0

function init(args)
   local tid = tonumber(wrk.thread:get("tid")) or 0
   local stride = tonumber(os.getenv("BENCH_THREADS") or "1")
   local n = 0
   for line in io.lines(os.getenv("BENCH_REQUESTS")) do
      if n % stride == tid then
         local path, id, ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
         local headers = {
            ["Content-Type"] = "application/json",
            ["webhook-id"] = id,
            ["webhook-timestamp"] = ts,
            ["webhook-signature"] = sig,
         }
         table.insert(formatted, wrk.format("POST", path, headers, body))
      end
      n = n + 1
   end
end

function request()
   local r = formatted[next_index]
   next_index = next_index + 1
   if next_index > #formatted then
      next_index = 1
   end
   return r
end

function response(status, headers, body)
   if status ~= 202 then
      not202 = not202 + 1
   end
end

function done(summary, latency, requests)
   local total = 0
   for _, thread in ipairs(threads) do
      total = total + (tonumber(thread:get("not202")) or 0)
   end
   io.write(string.format("not-202 answers: %d\n", total))
end
