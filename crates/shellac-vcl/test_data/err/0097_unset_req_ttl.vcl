# req.ttl and req.grace can be set, not unset (varnishd 7.1).
vcl 4.1;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv { set req.ttl = 5s; unset req.ttl; unset req.grace; }
