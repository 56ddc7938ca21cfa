vcl 4.1;
backend b1 { .host = "127.0.0.1"; }
backend b2 { .host = "127.0.0.1"; .port = "81"; }
director r random {
  .retries = 5;
  { .backend = b1; .weight = 7; }
  { .backend = b2; .weight = 3; }
}
director c client { { .backend = b1; .weight = 1; } }
director h hash { { .backend = b2; } }
director f fallback { { .backend = b1; } { .backend = b2; } }
sub vcl_recv {
	if (req.http.a) { set req.backend_hint = r; }
	if (req.http.b) { set req.backend_hint = c; }
	if (req.http.c) { set req.backend_hint = h; }
	set req.backend = f;
}
