#!/usr/bin/env bash
# Coalescing under load: CLIENTS connections (default 1,000) ask for one cold URL at once while
# the origin takes DELAY seconds to answer; the origin counts what reaches it. Shellac (cargo's
# release build) and Varnish 7.1 run side by side, each on a URL of its own. The target (issue
# 20): exactly one backend request, and every client served without an error.
#
#   bench/coalesce.sh [CLIENTS=1000] [DELAY=2]
#
# Loopback ports 18320, 18321 and 18330 must be free.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-1000}
DELAY=${2:-2}

. bench/lib.sh
bench_need varnishd:varnish python3:python3
cargo build --release -q -p shellac
bench_ports 18320 18321 18330
bench_workdir shellac-coalesce-bench

# The origin: every request is logged (one line with its path), answered after DELAY seconds,
# cacheable for an hour.
cat > "$W/origin.py" <<PY
import http.server, socketserver, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        with open("$W/origin.log", "a") as f:
            f.write(self.path + "\n")
        time.sleep($DELAY)
        body = b"x" * 1024
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 4096
S(("127.0.0.1", 18330), H).serve_forever()
PY
: > "$W/origin.log"
printf 'vcl 4.1;\nbackend origin { .host = "127.0.0.1"; .port = "18330"; }\n' > "$W/cache.vcl"
chmod -R a+rX "$W"
chmod a+w "$W/origin.log"

python3 "$W/origin.py" & PIDS+=($!)
RUST_LOG=warn target/release/shellac serve -T none -a 127.0.0.1:18320 -f "$W/cache.vcl" >/dev/null & PIDS+=($!)
varnishd -F -j none -n "$W/varnish" -a 127.0.0.1:18321 -f "$W/cache.vcl" -s malloc,256m -T none \
    -p thread_pool_max=2000 >/dev/null 2>&1 & PIDS+=($!)
sleep 3

# The clients: all connect first, then all send at once; each reads one whole response.
cat > "$W/clients.py" <<'PY'
import asyncio, sys, time
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
async def one(start):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    await start.wait()
    t = time.monotonic()
    w.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    head = await r.readuntil(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
    body = await r.readexactly(length)
    w.close()
    return head.startswith(b"HTTP/1.1 200") and len(body) == 1024, time.monotonic() - t
async def main():
    start = asyncio.Event()
    tasks = [asyncio.create_task(one(start)) for _ in range(n)]
    await asyncio.sleep(1)
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    ok = [x for x in results if not isinstance(x, BaseException) and x[0]]
    lat = sorted(x[1] for x in ok)
    print(len(ok), n - len(ok), f"{lat[len(lat) // 2] * 1000:.0f}" if lat else "-", f"{lat[-1] * 1000:.0f}" if lat else "-")
asyncio.run(asyncio.wait_for(main(), 60))
PY

printf '%-8s %8s %8s %8s %13s %8s %8s\n' cache clients served failed backend_reqs p50_ms max_ms
for n in shellac varnish; do
    port=18320; [ $n = varnish ] && port=18321
    read -r served failed p50 max < <(python3 "$W/clients.py" $port "/cold-$n" "$CLIENTS")
    backend=$(grep -c "^/cold-$n\$" "$W/origin.log" || true)
    printf '%-8s %8s %8s %8s %13s %8s %8s\n' "$n" "$CLIENTS" "$served" "$failed" "$backend" "$p50" "$max"
done
