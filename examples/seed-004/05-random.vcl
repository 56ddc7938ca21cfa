vcl 4.0;
import directors;
# The book shows vcl_init and vcl_recv; the two backends are declared so the file stands alone.
backend backend1 { .host = "web001.example.com"; }
backend backend2 { .host = "web002.example.com"; }
sub vcl_init {
new loadbalancing = directors.random();
loadbalancing.add_backend(backend1,1.0);
loadbalancing.add_backend(backend2,2.0);
}
sub vcl_recv {
set req.backend_hint = loadbalancing.backend();
}
