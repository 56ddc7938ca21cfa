# return (fail) with a reason, as varnishd 7.1 takes it.
vcl 4.1;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv { if (req.http.x) { return (fail("no x allowed")); } }
sub vcl_init { return (fail); }
