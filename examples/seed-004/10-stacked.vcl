vcl 4.0;
import directors;
# The book describes, in prose, round-robin directors per data centre stacked in a fallback
# director; this is that setup written out.
backend dc1_web1 { .host = "dc1-web1.example.com"; }
backend dc1_web2 { .host = "dc1-web2.example.com"; }
backend dc2_web1 { .host = "dc2-web1.example.com"; }
backend dc2_web2 { .host = "dc2-web2.example.com"; }
sub vcl_init {
new dc1 = directors.round_robin();
dc1.add_backend(dc1_web1);
dc1.add_backend(dc1_web2);
new dc2 = directors.round_robin();
dc2.add_backend(dc2_web1);
dc2.add_backend(dc2_web2);
new loadbalancing = directors.fallback();
loadbalancing.add_backend(dc1.backend());
loadbalancing.add_backend(dc2.backend());
}
sub vcl_recv {
set req.backend_hint = loadbalancing.backend();
}
