# Variables varnishd 7.1 lets VCL set for features Shellac lacks: each refused, naming why.
vcl 4.1;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv { set req.storage = storage.Transient; set sess.idle_send_timeout = 1s; }
sub vcl_backend_response { set beresp.do_esi = true; }
sub vcl_deliver { set resp.do_esi = false; }
