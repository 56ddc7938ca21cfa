vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub early { if (req.url == "/") { return; } set req.http.x = "y"; }
sub vcl_recv { call early; }
