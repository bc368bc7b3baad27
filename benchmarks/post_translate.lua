-- wrk script: POST the seed job to /translate; count 2xx responses for the durability check.
wrk.method = "POST"
wrk.body = '{"source_language":"en","target_language":"es","metadata":{"video_url":"https://example.com/video.mp4"}}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   ok = 0
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   end
end

function done(summary, latency, requests)
   local total = 0
   for _, thread in ipairs(threads) do
      total = total + thread:get("ok")
   end
   io.write(string.format("2xx responses: %d\n", total))
end
