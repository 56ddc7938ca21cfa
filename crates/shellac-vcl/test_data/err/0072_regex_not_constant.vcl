vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { if (req.url ~ req.http.pattern) { return (pass); } set req.url = regsub(req.url, req.http.p, ""); }
