-- wrk script: POSTs the same refresh request tokdash sends (client_secret_post) to a server
-- that rotates refresh tokens. A refresh token works once, so tokens circulate: each request
-- takes one from a queue and each answer puts its successor back. wrk builds a connection's
-- next request only after its answer, so a queue of more tokens than connections never runs dry.
--   wrk -t1 -c8 -d10s -s refresh.lua ISSUER/token -- TOKENS_FILE   (one refresh token a line)
local queue, head, tail = {}, 1, 0
failed = 0 -- global, so that done() can read it from the thread with thread:get
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    tail = tail + 1
    queue[tail] = line
  end
end

function request()
  local rt = queue[head]
  queue[head] = nil
  head = head + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&refresh_token=" .. rt
    .. "&client_id=tokdash-post&client_secret=post-secret")
end

function response(status, headers, body)
  local rt = body:match('"refresh_token":"([^"]+)"')
  if status == 200 and rt then
    tail = tail + 1
    queue[tail] = rt
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("failed") end
  io.write(string.format("WRK requests=%d rps=%.1f failed=%d\n", summary.requests,
    summary.requests / (summary.duration / 1e6), bad))
end
