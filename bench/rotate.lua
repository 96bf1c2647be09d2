-- wrk script: each request asks for the next path of a list and comes from a new client
-- address (X-Forwarded-For, read by the app behind one trusted proxy).
--
--   wrk -t THREADS -s bench/rotate.lua URL -- PATHS_FILE once|loop THREADS RUN_NUMBER
--
-- The threads take the paths in turn (thread k: paths k, k + threads, ...), so no two threads
-- ask for the same path in one pass. "once": each thread stops after its share of one pass,
-- so every request of the run asks for a path nobody asked for before (a first view).
-- done() prints one line of figures for the harness: "rotate: key=value ...".
--
-- wrk itself always runs for its whole -d duration and reports that as the run's duration,
-- even when every thread stopped early after its pass: "once" runs time their pass themselves
-- (first request to each thread's stop) and report it as "elapsed_us", so a pass that ends
-- early is not divided by time nobody spent asking.

local threads = {}
local next_id = 1

-- Wall-clock microseconds (LuaJIT has no such clock; asked once at each end of a pass).
local function now_us()
  local pipe = io.popen("date +%s%6N")
  local value = tonumber(pipe:read("*l"))
  pipe:close()
  return value
end

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    if line ~= "" then
      paths[#paths + 1] = line
    end
  end
  once = args[2] == "once"
  thread_count = tonumber(args[3] or "1")
  -- Each run of one benchmark gets its own number, so no two runs send the same address.
  first_octet = 16 + ((tonumber(args[4] or "0") * thread_count + id - 1) % 200)
  position = id - 1
  sent = 0
  done_once = false
  started_us = 0
  stopped_us = 0
  s2xx, s3xx, s4xx, s5xx = 0, 0, 0, 0
end

function request()
  local path = paths[(position % #paths) + 1]
  position = position + thread_count
  if once and position >= #paths then
    done_once = true
  end
  if sent == 0 and once then
    started_us = now_us()
  end
  sent = sent + 1
  -- A distinct address for each request: <run and thread>.<sent as three bytes>.
  local ip = string.format("%d.%d.%d.%d", first_octet, math.floor(sent / 65536) % 256,
    math.floor(sent / 256) % 256, sent % 256)
  return wrk.format("GET", path, {
    ["X-Forwarded-For"] = ip,
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      .. "Chrome/131.0 Safari/537.36",
    ["Accept-Language"] = "en",
    ["Accept"] = "text/html,application/xhtml+xml",
  })
end

function response(status, headers, body)
  if status < 300 then
    s2xx = s2xx + 1
  elseif status < 400 then
    s3xx = s3xx + 1
  elseif status < 500 then
    s4xx = s4xx + 1
  else
    s5xx = s5xx + 1
  end
  if done_once then
    if stopped_us == 0 then
      stopped_us = now_us()
    end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local s = { 0, 0, 0, 0 }
  -- A "once" pass every thread finished: from the first request to the last thread's stop.
  local first, last, all_stopped = nil, 0, true
  for _, thread in ipairs(threads) do
    local started, stopped = thread:get("started_us") or 0, thread:get("stopped_us") or 0
    if started > 0 and (first == nil or started < first) then
      first = started
    end
    if stopped == 0 then
      all_stopped = false
    elseif stopped > last then
      last = stopped
    end
  end
  local elapsed = summary.duration
  if first ~= nil and all_stopped and last > first then
    elapsed = last - first
  end
  for _, thread in ipairs(threads) do
    s[1] = s[1] + (thread:get("s2xx") or 0)
    s[2] = s[2] + (thread:get("s3xx") or 0)
    s[3] = s[3] + (thread:get("s4xx") or 0)
    s[4] = s[4] + (thread:get("s5xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "rotate: requests=%d duration_us=%d elapsed_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
      .. "s2xx=%d s3xx=%d s4xx=%d s5xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, elapsed, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, s[1], s[2], s[3], s[4],
    e.connect, e.read, e.write, e.timeout
  ))
end
