-- The load benchmark's chat completion with a question no earlier request asked: every request is
-- a cache miss (and a store).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
local prefix = tostring(math.random(1, 1000000000))
request = function()
  counter = counter + 1
  local body = '{"model":"mock-small","messages":[{"role":"system","content":"You are terse."},' ..
    '{"role":"user","content":"Summarise the benefits of an inference gateway in one line, ' ..
    'case ' .. prefix .. '-' .. counter .. '."}],"max_tokens":64,"temperature":0.2}'
  return wrk.format(nil, nil, nil, body)
end
