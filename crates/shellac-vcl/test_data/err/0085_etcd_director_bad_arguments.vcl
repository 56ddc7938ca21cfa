vcl 4.1;
import etcd;
backend default none;
probe p { .url = "/"; }
sub vcl_init {
    new a = etcd.director(prefix = "varnish/web", policy = shard, probe = nosuch);
    new b = etcd.director(prefix = "/v/web/" + "x/", max_connections = -1);
    new c = etcd.groups(prefix = "/v/", default = "a/b", probe = p);
    new d = etcd.director();
    new e = etcd.director(prefix = "/v/e/", probe = p, ttl = 3s);
}
sub vcl_recv {
    set req.backend_hint = etcd.director(prefix = "/v/");
    set req.backend_hint = c.backend("web");
    set req.backend_hint = a.backend();
    e.add_backend(default);
}
