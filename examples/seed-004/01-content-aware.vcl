vcl 4.0;
backend public {
.host = "web001.example.com";
}
backend admin {
.host = "web002.example.com";
}
sub vcl_recv {
if(req.url ~ "^/admin(/.*)?") {
set req.backend_hint = admin;
} else {
set req.backend_hint = public;
}
}
