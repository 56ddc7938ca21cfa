vcl 4.1;
backend a { .host = "127.0.0.1:8080"; }
backend b { .host = "[::1]:8081"; }
backend c { .host = "::1"; .port = "http"; }
backend d { .host = "localhost"; }
sub vcl_recv {
	if (req.http.a) { set req.backend_hint = a; }
	elseif (req.http.b) { set req.backend_hint = b; }
	elsif (req.http.c) { set req.backend_hint = c; }
	elif (req.http.d) { set req.backend_hint = d; }
	else if (req.http.e) { return (pass); }
	else { return (hash); }
}
