vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_deliver { set resp.status = "200"; set resp.http.x = client; }
sub vcl_backend_response { set beresp.ttl = 10; set beresp.uncacheable = "yes"; set beresp.ttl = beresp.http.ttl; }
