-- wrk's script for scripts/bench_pixel.py: one request after another, each for a random path of
-- a file, with the mode's user agent and an X-Forwarded-For address in one of N /24 networks.
--
-- wrk -s scripts/bench_pixel.lua URL -- PATHS AGENTS MODE NETWORKS CONNECTION THREADS
--   PATHS   a file of request paths, one a line (a random one each request)
--   AGENTS  a file of user agents, one a line
--   MODE    "mix": a random agent of the file each request; "unique": each thread takes the
--           agents in turn (thread i the i-th, i+T-th, ...), so no two requests share one; past
--           the end of the file a suffix with the round keeps them unseen
--   NETWORKS  the X-Forwarded-For is 127.0.N.1, N random below this
--   CONNECTION  "close" to send Connection: close, anything else to ask for keep-alive
--   THREADS   wrk's -t, so that each thread knows its stride through the agents
-- At the end it prints one RESULT line that bench_pixel.py reads.

-- Each wrk thread runs this script in a Lua state of its own; setup() runs in the main one.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local function read_lines(name)
  local found = {}
  for text in io.lines(name) do
    found[#found + 1] = text
  end
  return found
end

local paths, agents, mode, networks, close, step
-- Global, so that done() can read it from each thread: the next agent index in unique mode.
taken = 0

function init(args)
  paths = read_lines(args[1])
  agents = read_lines(args[2])
  mode = args[3]
  networks = tonumber(args[4])
  close = args[5] == "close"
  step = tonumber(args[6])
  taken = id - 1
  math.randomseed(id * 7919 + os.time())
end

function request()
  local agent
  if mode == "unique" then
    local round = math.floor(taken / #agents)
    agent = agents[taken % #agents + 1]
    if round > 0 then
      agent = agent .. " r" .. round
    end
    taken = taken + step
  else
    agent = agents[math.random(#agents)]
  end
  local headers = {
    ["User-Agent"] = agent,
    ["Accept"] = "image/*",
    ["X-Forwarded-For"] = "127.0." .. math.random(0, networks - 1) .. ".1",
  }
  if close then
    headers["Connection"] = "close"
  end
  return wrk.format("GET", paths[math.random(#paths)], headers)
end

function done(summary, latency, requests)
  local taken_most = 0
  for _, thread in ipairs(threads) do
    local n = thread:get("taken")
    if n > taken_most then
      taken_most = n
    end
  end
  local errors = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d "
      .. "p50_us=%d p99_us=%d agents_taken=%d\n",
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(99), taken_most
  ))
end
