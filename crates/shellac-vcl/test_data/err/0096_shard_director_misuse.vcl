# The shard director's and its parameter sets' arguments are checked as varnishd checks them.
vcl 4.1;
import directors;
backend a { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_init {
    new s = directors.shard();
    s.add_backend(a, weight = "heavy");
    new p = directors.shard_param();
    p.set(by=FOO);
}
sub vcl_recv {
    set req.backend_hint = s.backend(by=NAME);
    set req.backend_hint = s.backend(healthy=YES);
    set req.http.x = s.key();
    set req.backend_hint = p;
    set req.http.y = p.get_key(1);
}
