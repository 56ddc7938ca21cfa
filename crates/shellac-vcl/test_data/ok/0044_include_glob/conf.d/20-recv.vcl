sub vcl_recv { set req.http.b = "2"; }
