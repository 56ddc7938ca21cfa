vcl 4.1;
import std;
backend default { .host = "127.0.0.1"; }
sub vcl_recv {
	std.log("recv " + req.url);
	set req.http.n = std.integer(req.http.n, 0) + std.integer(s = "1", fallback = 2);
	set req.http.d = std.duration(req.http.d, 1s);
	set req.http.r = std.real(s = "1.5", fallback = 0.0);
	set req.http.l = std.tolower(req.http.host) + std.toupper("x");
	if (std.healthy(req.backend_hint) && std.ip(req.http.ip, "0.0.0.0") ~ local_nets) { return (pass); }
	std.collect(req.http.Cookie);
	set req.http.i = std.integer(duration = 1s);
}
acl local_nets { "127.0.0.0"/8; }
