vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { call vcl_req_host; return (hash); }
sub vcl_req_cookie { unset req.http.Cookie; }
