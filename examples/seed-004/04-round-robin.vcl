vcl 4.0;
import directors;
# The book shows vcl_init and vcl_recv; the three backends are declared so the file stands alone.
backend backend1 { .host = "web001.example.com"; }
backend backend2 { .host = "web002.example.com"; }
backend backend3 { .host = "web003.example.com"; }
sub vcl_init {
new loadbalancing = directors.round_robin();
loadbalancing.add_backend(backend1);
loadbalancing.add_backend(backend2);
loadbalancing.add_backend(backend3);
}
sub vcl_recv {
set req.backend_hint = loadbalancing.backend();
}
