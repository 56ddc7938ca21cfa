# `default` names the VCL's default backend (varnishd 7.1).
vcl 4.1;
backend b { .host = "127.0.0.1"; .port = "8080"; }
backend c { .host = "127.0.0.1"; .port = "8081"; }
sub vcl_recv { if (req.http.x) { set req.backend_hint = c; } else { set req.backend_hint = default; } }
