vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_backend_response {
	set beresp.ttl = beresp.ttl * 1.5 - 1s;
	set beresp.grace = 10s * 2 / 4;
	set beresp.http.x = 10 / 3 + 10 % 3 - -1;
	set beresp.http.y = now - 1d;
	set beresp.http.z = now - beresp.time;
	set beresp.ttl += 1s;
	set beresp.ttl *= 2;
	set beresp.status -= 1;
}
