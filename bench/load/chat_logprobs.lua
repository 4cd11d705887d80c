-- The load benchmark's chat completion as a cascade's judged attempt sends it: with logprobs
-- (used by bench/load/run.sh --with-routing to measure the mock alone doing that work).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"mock-small","messages":[{"role":"system","content":"You are terse."},' ..
  '{"role":"user","content":"Summarise the benefits of an inference gateway in one line."}],' ..
  '"max_tokens":64,"temperature":0.2,"stream":false,"logprobs":true}'
