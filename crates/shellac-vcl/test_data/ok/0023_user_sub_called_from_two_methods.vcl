vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub strip { unset req.http.Cookie; }
sub vcl_recv { call strip; }
sub vcl_deliver { call strip; }
