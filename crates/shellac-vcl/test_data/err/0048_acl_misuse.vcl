vcl 4.1;
backend default { .host = "127.0.0.1"; }
acl a { "127.0.0.1"; }
sub vcl_recv {
	if (req.url ~ a) { return (pass); }
	if (client.ip ~ nosuch) { return (pass); }
	if (client.ip ~ "^127") { return (pass); }
	set req.http.x = a;
}
