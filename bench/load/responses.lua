-- The Responses API request that asks what chat.lua asks, for bench/load/apis.sh.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"mock-small","instructions":"You are terse.",' ..
  '"input":"Summarise the benefits of an inference gateway in one line.",' ..
  '"max_output_tokens":64,"temperature":0.2}'
