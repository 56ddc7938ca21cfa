vcl 4.0;
import directors;
probe healthcheck {
.url = "/";
.interval = 2s;
.timeout = 1s;
.window = 3;
.threshold = 2;
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
new loadbalance = directors.fallback();
loadbalance.add_backend(web001);
loadbalance.add_backend(web002);
}
sub vcl_recv {
set req.backend_hint = loadbalance.backend();
}
