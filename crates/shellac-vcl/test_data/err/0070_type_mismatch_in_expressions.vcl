vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv {
	if (req.url < "b") { return (pass); }
	if (req.restarts == 1s) { return (pass); }
	if (client.ip) { return (pass); }
	set req.http.x = true + 1;
	set req.http.y = -req.url;
	set req.http.z = req.restarts % 1.5;
}
