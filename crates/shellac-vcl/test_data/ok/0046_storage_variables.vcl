vcl 4.1;
# storage.NAME for the storages varnishd has without -s (s0, Transient), and their properties.
backend b { .host = "127.0.0.1"; .port = "8080"; }

sub vcl_init {
    if (storage.s0.happy) {}
}

sub vcl_recv {
    set req.http.x-free = storage.s0.free_space;
    set req.http.x-used = storage.Transient.used_space;
    set req.http.x-store = storage.s0;
}

sub vcl_backend_response {
    if (beresp.ttl < 1s || beresp.storage == storage.Transient) {
        set beresp.storage = storage.Transient;
    } else {
        set beresp.storage = storage.s0;
    }
    set beresp.http.x-storage = beresp.storage;
}

sub vcl_deliver {
    set resp.http.x-storage = obj.storage;
}
