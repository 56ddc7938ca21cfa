vcl 4.0;
backend default { .host = "web001.example.com"; }
sub vcl_backend_response {
set beresp.grace = 30s;
}
