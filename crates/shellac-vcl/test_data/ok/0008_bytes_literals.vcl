vcl 4.1;
import std;
backend default { .host = "127.0.0.1"; }
sub vcl_recv {
	if (std.cache_req_body(64KB)) {
		if (std.bytes(req.http.len, 0B) > 1MB) { set req.http.x = std.bytes(req.http.len, 0B) - 1KB; }
	}
}
