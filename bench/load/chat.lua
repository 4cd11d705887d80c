-- A non-streaming chat completion, the request the load benchmark repeats.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"mock-small","messages":[{"role":"system","content":"You are terse."},' ..
  '{"role":"user","content":"Summarise the benefits of an inference gateway in one line."}],' ..
  '"max_tokens":64,"temperature":0.2}'
