vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_backend_response {
	set beresp.ttl = 1.5s + 100ms + 1m + 1h + 1d + 1w + 1y;
	set beresp.grace = 123456789012345s;
	set beresp.keep = 123456789012.123s;
}
