vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { set req.hash_always_miss += true; set req.backend_hint *= 2; }
