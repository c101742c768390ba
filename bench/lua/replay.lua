-- wrk script: replays the requests of the file named by $WRK_REQUESTS (written by bench/wrk.py), one
-- per line: method, path, token and JSON body, tab-separated; an empty token or body is left out.
-- Each thread goes round the list from its own line. "{n}" in a path becomes a number no other
-- request of the run has (so that a response cache always misses). done() prints one line,
-- "wrk-json: {...}", which bench/wrk.py parses: requests, unexpected answers, latency percentiles.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("number", #threads)
end

local requests = {}
local following = 1
local sent = 0
unexpected = 0
failure = nil

local function parsed(line)
   local method, path, token, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]*)\t(.*)$")
   if not method then
      error("not a request line: " .. line)
   end
   local headers = {}
   if token ~= "" then
      headers["Authorization"] = "Token " .. token
   end
   if body == "" then
      body = nil
   else
      headers["Content-Type"] = "application/json"
   end
   local request = {method = method, path = path, headers = headers, body = body}
   if not path:find("{n}", 1, true) then
      request.formatted = wrk.format(method, path, headers, body)
   end
   return request
end

function init(args)
   for line in io.lines(os.getenv("WRK_REQUESTS")) do
      requests[#requests + 1] = parsed(line)
   end
   -- Threads start far apart in the list, so that they do not send the same requests at once.
   following = (number - 1) * 7919 % #requests + 1
end

function request()
   local chosen = requests[following]
   following = following % #requests + 1
   if chosen.formatted then
      return chosen.formatted
   end
   sent = sent + 1
   local path = chosen.path:gsub("{n}", number .. "-" .. sent, 1)
   return wrk.format(chosen.method, path, chosen.headers, chosen.body)
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      unexpected = unexpected + 1
      failure = failure or (status .. " " .. body:sub(1, 300))
   end
end

local function quoted(text)
   return '"' .. text:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
   local unexpected_total, failures = 0, {}
   for _, thread in ipairs(threads) do
      unexpected_total = unexpected_total + thread:get("unexpected")
      local failure = thread:get("failure")
      if failure then
         failures[#failures + 1] = quoted(failure)
      end
   end
   local errors = summary.errors
   io.write(string.format(
      'wrk-json: {"requests": %d, "seconds": %.6f, "unexpected": %d, "socket_errors": %d, "timeouts": %d, '
         .. '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "failures": [%s]}\n',
      summary.requests, summary.duration / 1e6, unexpected_total, errors.connect + errors.read + errors.write,
      errors.timeout, latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, table.concat(failures, ", ")
   ))
end
