vcl 4.1;
import etcd;
backend default none;
sub vcl_init {
    new e = etcd.director(prefix = "varnish/e");
    new g = etcd.groups(prefix = "/v/");
}
sub vcl_recv {
    e.add_backend(default);
    set req.backend_hint = g.backend("web", "x");
}
