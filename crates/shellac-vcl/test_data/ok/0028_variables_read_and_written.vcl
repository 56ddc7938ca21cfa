vcl 4.1;
import std;
backend default { .host = "127.0.0.1"; }
sub vcl_recv {
	set req.http.X-Forwarded-Proto = "https";
	set req.http.X-Client = client.ip + " " + server.ip + " " + local.ip + " " + remote.ip;
	set req.http.X-Id = server.identity + server.hostname + client.identity + req.xid + sess.xid + local.endpoint;
	set req.url = std.querysort(req.url);
	set req.ttl = 10s;
	set req.grace = 0s;
	set req.hash_always_miss = req.restarts > 0;
	unset req.http.Cookie;
	if (req.esi_level == 0 && !req.can_gzip && req.time < now) { return (pass); }
}
sub vcl_backend_fetch { set bereq.first_byte_timeout = 5s; set bereq.connect_timeout = 1s; set bereq.between_bytes_timeout = 2s; unset bereq.http.Cookie; }
sub vcl_backend_response {
	set beresp.ttl = 1h;
	set beresp.uncacheable = bereq.is_bgfetch || beresp.was_304;
	set beresp.do_stream = false;
	set beresp.http.X-Backend = beresp.backend.name;
	set beresp.reason = "OK " + bereq.retries;
}
sub vcl_deliver { set resp.http.X-Hits = obj.hits; set resp.http.X-Age = obj.age; unset resp.http.Via; }
sub vcl_synth { set resp.body = "gone"; set resp.status = 410; }
sub vcl_backend_error { set beresp.body = "down"; }
