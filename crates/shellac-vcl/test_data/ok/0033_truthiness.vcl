vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv {
	if (req.http.x && req.restarts && req.ttl && req.backend_hint) { return (pass); }
	if (!(req.http.y || req.url != "/")) { return (pass); }
}
