vcl 4.1;
backend b { .host = "127.0.0.1"; .port = "8080"; }

sub vcl_recv {
    set req.http.x = obj.storage;
}

sub vcl_backend_response {
    set beresp.storage = storage.s0.free_space;
    set storage.s0.used_space = 1KB;
}
