-- wrk script for bench/run.py: exactly BENCH_COUNT requests (PUT or GET of distinct small files)
-- over all of wrk's connections, then stop and print one JSON line ("BENCHJSON {...}").
--
-- wrk itself runs for a duration; here each thread takes its share of the file indices,
-- reserves one index per request in delay() (called by wrk before each request when a delay()
-- function exists), idles its connections once its share is issued, and stops its event loop
-- when its last response arrived. Timing uses CLOCK_MONOTONIC through LuaJIT's FFI: from the
-- first request of any thread to the last response of all. run.py sends SIGINT once every
-- thread has written its marker file, so wrk's main thread stops sleeping and calls done().
--
-- Environment (set by run.py):
--   BENCH_MODE       put | get
--   BENCH_COUNT      total number of files (indices 0 .. COUNT-1)
--   BENCH_THREADS    wrk's -t (to split the indices)
--   BENCH_PREFIX     path prefix; the file name is PREFIX .. string.format("%05d", i)
--   BENCH_PAYLOAD    file with the base content; file i is string.format("%016d", i) .. base:sub(17)
--   BENCH_MULTIPART  1 = send the content as the "file" part of multipart/form-data (the gateway)
--   BENCH_COOKIE     optional Cookie header (the gateway's session)
--   BENCH_DONE       folder for the per-thread marker files

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]])
local tsbuf = ffi.new("bench_timespec")
local function now()
    ffi.C.clock_gettime(1, tsbuf) -- CLOCK_MONOTONIC
    return tonumber(tsbuf.tv_sec) + tonumber(tsbuf.tv_nsec) * 1e-9
end

-- setup/done run in wrk's main Lua state -----------------------------------------------------
local threads = {}
local nthreads = 0

function setup(thread)
    thread:set("tid", nthreads)
    nthreads = nthreads + 1
    table.insert(threads, thread)
end

function done(summary, latency, requests)
    local parts = {}
    for _, t in ipairs(threads) do
        parts[#parts + 1] = string.format(
            '{"tid":%d,"t0":%.9f,"t1":%.9f,"ok":%d,"bad":%d,"issued":%d,"wanted":%d,"badstatus":%d,"badbody":%d}',
            t:get("tid"), t:get("t0") or -1, t:get("t1") or -1, t:get("ok") or 0, t:get("bad") or 0,
            t:get("issued") or 0, t:get("wanted") or 0, t:get("last_bad_status") or 0, t:get("bad_body") or 0)
    end
    local e = summary.errors
    io.write(string.format(
        'BENCHJSON {"threads":[%s],"requests":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
            .. '"latency_us":{"mean":%.1f,"p50":%d,"p99":%d,"max":%d}}\n',
        table.concat(parts, ","), summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
        latency.mean, latency:percentile(50), latency:percentile(99), latency.max))
    io.flush()
end

-- init/delay/request/response run in each thread's own Lua state -----------------------------
local reqs = {}
local reserved = 0
local mode, size, done_dir
t0, t1, ok, bad, issued, wanted, last_bad_status, bad_body = nil, nil, 0, 0, 0, 0, 0, 0

function init(args)
    mode = os.getenv("BENCH_MODE")
    local count = tonumber(os.getenv("BENCH_COUNT"))
    local nthr = tonumber(os.getenv("BENCH_THREADS"))
    local prefix = os.getenv("BENCH_PREFIX")
    local multipart = os.getenv("BENCH_MULTIPART") == "1"
    local cookie = os.getenv("BENCH_COOKIE") or ""
    done_dir = os.getenv("BENCH_DONE")
    local f = assert(io.open(os.getenv("BENCH_PAYLOAD"), "rb"))
    local base = f:read("*a")
    f:close()
    size = #base

    local share = math.floor(count / nthr)
    local first = tid * share
    local last = first + share - 1
    if tid == nthr - 1 then
        last = count - 1
    end
    local boundary = "benchboundary7MA4YWxkTrZu0gW"
    local head = "--" .. boundary .. "\r\n"
        .. 'Content-Disposition: form-data; name="file"; filename="small.bin"\r\n'
        .. "Content-Type: application/octet-stream\r\n\r\n"
    local tail = "\r\n--" .. boundary .. "--\r\n"
    for i = first, last do
        local headers = {}
        if cookie ~= "" then
            headers["Cookie"] = cookie
        end
        local path = prefix .. string.format("%05d", i)
        if mode == "put" then
            local content = string.format("%016d", i) .. base:sub(17)
            if multipart then
                headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
                reqs[#reqs + 1] = wrk.format("PUT", path, headers, head .. content .. tail)
            else
                reqs[#reqs + 1] = wrk.format("PUT", path, headers, content)
            end
        else
            reqs[#reqs + 1] = wrk.format("GET", path, headers, nil)
        end
    end
    wanted = #reqs
end

function delay()
    if reserved < wanted then
        reserved = reserved + 1
        return 0
    end
    return 3600000 -- this thread's share is issued: the connection idles until the thread stops
end

function request()
    if reserved == 0 then
        -- wrk probes request() once in the first thread before the run (to count pipelined
        -- requests): nothing is sent then, so this call neither takes an index nor starts the clock
        return reqs[1]
    end
    if t0 == nil then
        t0 = now()
    end
    issued = issued + 1
    return reqs[issued] or reqs[#reqs] -- never past the share, since delay() reserved a slot
end

function response(status, headers, body)
    local good = status >= 200 and status < 300
    if good and mode == "get" then
        if #body ~= size or tonumber(body:sub(1, 16)) == nil then
            good = false
            bad_body = bad_body + 1
        end
    end
    if good then
        ok = ok + 1
    else
        bad = bad + 1
        last_bad_status = status
    end
    if ok + bad >= wanted then
        t1 = now()
        local m = io.open(done_dir .. "/done." .. tid, "w")
        if m then
            m:close()
        end
        wrk.thread:stop()
    end
end
