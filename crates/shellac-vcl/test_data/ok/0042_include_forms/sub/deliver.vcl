sub vcl_deliver { set resp.http.x = "1"; }
