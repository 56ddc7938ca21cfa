# Varnish 3 syntax, as seed 000 writes it.
vcl 4.1;
backend b1 { .host = "127.0.0.1"; }
backend b2 { .host = "127.0.0.1"; .port = "81"; }
director project round-robin {
  { .backend = b1; }
  { .backend = b2; }
}
sub vcl_recv { set req.backend_hint = project; }
