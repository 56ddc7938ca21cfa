vcl 4.0;
probe healthcheck {
.url = "/";
.interval = 5s;
.timeout = 1s;
.window = 10;
.threshold = 3;
.initial = 1;
.expected_response = 200;
}
backend public {
.host = "web001.example.com";
.probe = healthcheck;
}
backend admin {
.host = "web002.example.com";
.probe = healthcheck;
}
sub vcl_recv {
if(req.url ~ "^/admin(/.*)?") {
set req.backend_hint = admin;
} else {
set req.backend_hint = public;
}
}
