-- check.lua — wrk script of bench/realclients.sh: checks every answer.
--
-- Counts the answers whose status is not 2xx and the 2xx answers whose body
-- is not the expected one (environment RC_BODY, default "Hello, World!"),
-- and at the end prints one line for the script to read:
--
--   rc-result requests=N duration_us=N non2xx=N bad_body=N connect=N read=N
--             write=N timeout=N status=N p50_us=N p99_us=N
--
-- (connect .. status: wrk's own error counts; p50/p99: wrk's latency
-- percentiles in microseconds.)  The run passes only if non2xx, bad_body
-- and every error count are 0.

local expected = os.getenv("RC_BODY") or "Hello, World!"
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    non2xx = 0
    bad_body = 0
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
    elseif body ~= expected then
        bad_body = bad_body + 1
    end
end

function done(summary, latency, requests)
    local non, bad = 0, 0
    for _, t in ipairs(threads) do
        non = non + t:get("non2xx")
        bad = bad + t:get("bad_body")
    end
    local e = summary.errors
    io.write(string.format(
        "rc-result requests=%d duration_us=%d non2xx=%d bad_body=%d connect=%d read=%d " ..
        "write=%d timeout=%d status=%d p50_us=%d p99_us=%d\n",
        summary.requests, summary.duration, non, bad, e.connect, e.read, e.write,
        e.timeout, e.status, latency:percentile(50.0), latency:percentile(99.0)))
end
