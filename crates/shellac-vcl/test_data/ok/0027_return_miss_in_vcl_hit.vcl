vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_hit {
	if (obj.ttl >= 0s) { return (deliver); }
	if (obj.ttl + obj.grace > 0s) { return (deliver); }
	return (miss);
}
