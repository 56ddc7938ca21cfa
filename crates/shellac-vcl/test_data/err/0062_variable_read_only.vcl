vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { set req.xid = "1"; set client.ip = "1.2.3.4"; set now = now; }
