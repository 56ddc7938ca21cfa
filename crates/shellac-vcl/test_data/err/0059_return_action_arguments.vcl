vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { if (req.http.a) { return (synth); } if (req.http.b) { return (pass(10s)); } return (hash(1)); }
sub vcl_deliver { return (synth(200, "a", "b")); }
sub vcl_backend_response { return (pass("x")); }
