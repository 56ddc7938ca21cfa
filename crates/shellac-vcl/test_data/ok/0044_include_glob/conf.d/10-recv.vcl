sub vcl_recv { set req.http.a = "1"; }
