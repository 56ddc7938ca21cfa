vcl 4.1;
backend first { .host = "127.0.0.1"; }
backend default { .host = "127.0.0.1"; .port = "81"; }
sub vcl_recv { set req.backend_hint = first; }
