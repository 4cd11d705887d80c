-- The Anthropic Messages request that asks what chat.lua asks, for bench/load/apis.sh.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.body = '{"model":"mock-small","system":"You are terse.",' ..
  '"messages":[{"role":"user","content":"Summarise the benefits of an inference gateway in one line."}],' ..
  '"max_tokens":64,"temperature":0.2}'
