vcl 4.1;
probe default { .url = "/ping"; }
backend a { .host = "127.0.0.1"; }
backend b { .host = "127.0.0.1"; .port = "81"; }
sub vcl_recv { set req.backend_hint = b; }
