# The shard director of Varnish 7.1 and its parameter sets, every method with its named
# arguments (varnishd -C 7.1.1 accepts it), and the shard policy of an etcd director.
vcl 4.1;
import directors;
import std;
import etcd;
backend a { .host = "127.0.0.1"; .port = "8080"; }
backend b { .host = "127.0.0.1"; .port = "8081"; }
sub vcl_init {
    new s = directors.shard();
    s.add_backend(a);
    s.add_backend(b, ident = "b-1", rampup = 30s, weight = 2);
    s.remove_backend(ident = "b-1");
    s.add_backend(b);
    s.set_warmup(0.1);
    s.set_rampup(10s);
    s.debug(0);
    s.reconfigure(replicas = 25);
    new p = directors.shard_param();
    p.set(by=KEY, key=7, alt=1, warmup=0.1, rampup=false, healthy=ALL);
    p.clear();
    s.associate(p.use());
    s.associate();
    new rr = directors.round_robin();
    rr.add_backend(s.backend());
    new nodes = etcd.director(prefix = "/varnish/backends/web/", policy = shard);
}
sub vcl_recv {
    set req.backend_hint = s.backend(by=URL, alt=req.restarts, healthy=ALL);
    if (req.http.k) {
        set req.backend_hint = s.backend(by=KEY, key=s.key(req.http.k), warmup=0.5, rampup=false);
    }
    if (req.http.lazy) { set req.backend_hint = s.backend(resolve=LAZY); }
    if (req.http.rr) { set req.backend_hint = rr.backend(); }
    if (req.http.n) { set req.backend_hint = nodes.backend(); }
}
sub vcl_backend_fetch {
    p.set(alt=bereq.retries, by=URL);
    set bereq.http.p = p.get_by() + p.get_key() + p.get_alt() + p.get_warmup() + p.get_rampup() + p.get_healthy();
    set bereq.backend = s.backend(by=HASH, healthy=IGNORE, resolve=NOW, param=p.use());
}
