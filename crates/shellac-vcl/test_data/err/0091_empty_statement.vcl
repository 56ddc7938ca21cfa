# varnishd 7.1 has no empty statement: a stray semicolon is an error, in a block or after one.
vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { { ; set req.http.a = "1"; } }
sub vcl_deliver { if (resp.http.a) { } ; }
