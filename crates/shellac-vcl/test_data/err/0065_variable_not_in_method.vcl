vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { set req.http.x = beresp.ttl; set bereq.url = "/"; }
sub vcl_backend_fetch { set req.url = "/"; set resp.status = 200; }
sub vcl_init { set req.url = "/"; }
