vcl 4.1;
import etcd;
import directors;
import std;
backend fallback_be { .host = "127.0.0.1"; .port = "8080"; }
probe seed {
    .request = "GET /probe.txt HTTP/1.1" "Connection: close";
    .timeout = 2s;
    .interval = 3s;
    .window = 10;
    .threshold = 8;
}
sub vcl_init {
    new web = etcd.director(prefix = "/varnish/backends/web/", policy = hash, probe = seed,
        connect_timeout = 5s, first_byte_timeout = 5s, between_bytes_timeout = 2s,
        max_connections = 100, host_header = "web.example.com");
    new groups = etcd.groups(prefix = "/varnish/backends/", default = "default");
    new both = directors.fallback();
    both.add_backend(web.backend());
    both.add_backend(groups.backend());
    both.add_backend(fallback_be);
}
sub vcl_recv {
    if (req.url ~ "^/web/") {
        set req.backend_hint = web.backend(req.url);
    } else {
        set req.backend_hint = groups.backend(regsub(req.http.host, "^([^.:]+).*$", "\1"));
    }
    if (!std.healthy(req.backend_hint)) {
        set req.backend_hint = both.backend();
    }
}
