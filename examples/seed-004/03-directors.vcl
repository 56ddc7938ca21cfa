vcl 4.0;
import directors;
# The book's snippet uses the probe "healthcheck" of the previous example without repeating it;
# it is repeated here so that the file stands alone.
probe healthcheck {
.url = "/";
.interval = 5s;
.timeout = 1s;
.window = 10;
.threshold = 3;
.initial = 1;
.expected_response = 200;
}
backend web001 {
.host = "web001.example.com";
.probe = healthcheck;
}
backend web002 {
.host = "web002.example.com";
.probe = healthcheck;
}
sub vcl_init {
new loadbalancing = directors.round_robin();
loadbalancing.add_backend(web001);
loadbalancing.add_backend(web002);
}
sub vcl_recv {
set req.backend_hint = loadbalancing.backend();
}
