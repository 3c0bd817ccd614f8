-- wrk script for the MCP benchmark cells. Usage: wrk ... -s mcp.lua URL -- MODE [SESSION_IDS]
--   MODE "stateless": POST tools/call, Accept: application/json, no session (also used for the bare app)
--   MODE "sse":       POST tools/call in an existing session (one per wrk thread, comma-separated ids),
--                     Accept: application/json, text/event-stream; the SSE body must carry the result
--   MODE "churn":     initialize -> notifications/initialized -> DELETE, in a loop (run with -c == -t)
-- done() prints one line "BENCH {json}" with the counts the harness reads.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

local VERSION = "2025-11-25"
local INIT = '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"' .. VERSION ..
   '","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
local INITIALIZED = '{"jsonrpc":"2.0","method":"notifications/initialized"}'

local function call_body(id)
   return '{"jsonrpc":"2.0","id":' .. id .. ',"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}'
end

function init(args)
   mode = args[1] or "stateless"
   bad = 0
   loops = 0
   state = 0
   sid = nil
   if mode == "stateless" then
      static = wrk.format("POST", nil, {
         ["Content-Type"] = "application/json",
         ["Accept"] = "application/json",
      }, call_body(1))
   elseif mode == "sse" then
      local ids = {}
      for id in string.gmatch(args[2] or "", "[^,]+") do table.insert(ids, id) end
      sid = ids[((tid - 1) % #ids) + 1]
   end
end

local function session_id(headers)
   return headers["mcp-session-id"] or headers["Mcp-Session-Id"]
end

function request()
   if mode == "stateless" then
      return static
   end
   if mode == "sse" then
      counter = counter + 1
      return wrk.format("POST", nil, {
         ["Content-Type"] = "application/json",
         ["Accept"] = "application/json, text/event-stream",
         ["Mcp-Session-Id"] = sid,
         ["MCP-Protocol-Version"] = VERSION,
      }, call_body(tid * 100000000 + counter))
   end
   -- churn
   if state == 0 then
      return wrk.format("POST", nil, {
         ["Content-Type"] = "application/json",
         ["Accept"] = "application/json, text/event-stream",
      }, INIT)
   elseif state == 1 then
      return wrk.format("POST", nil, {
         ["Content-Type"] = "application/json",
         ["Accept"] = "application/json, text/event-stream",
         ["Mcp-Session-Id"] = sid,
         ["MCP-Protocol-Version"] = VERSION,
      }, INITIALIZED)
   else
      return wrk.format("DELETE", nil, {
         ["Mcp-Session-Id"] = sid,
         ["MCP-Protocol-Version"] = VERSION,
      }, nil)
   end
end

function response(status, headers, body)
   if mode ~= "churn" then
      if status ~= 200 or not string.find(body, '"result"', 1, true) then
         bad = bad + 1
      end
      return
   end
   if state == 0 then
      sid = session_id(headers)
      if status == 200 and sid then state = 1 else bad = bad + 1 end
   elseif state == 1 then
      if status == 202 then state = 2 else bad = bad + 1; state = 0 end
   else
      if status == 200 or status == 204 then loops = loops + 1 else bad = bad + 1 end
      state = 0
   end
end

function done(summary, latency, requests)
   local bad_total, loops_total = 0, 0
   for _, thread in ipairs(threads) do
      bad_total = bad_total + (thread:get("bad") or 0)
      loops_total = loops_total + (thread:get("loops") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"bad":%d,"loops":%d,"connect_errors":%d,"read_errors":%d,' ..
      '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d}\n',
      summary.requests, summary.duration, bad_total, loops_total, e.connect, e.read, e.write, e.status,
      e.timeout, latency:percentile(50), latency:percentile(99)))
end
