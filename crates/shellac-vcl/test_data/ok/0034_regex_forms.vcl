vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv {
	if (req.url ~ "(?i)\.(png|jpe?g)$" || req.url !~ "^/admin(/.*)?" || req.http.host ~ "^" + "www\.") { return (pass); }
	if (req.url ~ "^(?!/static)" || req.http.Cookie ~ "(a)\1" || req.url ~ "^a++b") { return (pass); }
	set req.url = regsuball(req.url, "[?&]utm_[a-z]+=[^&]*", "");
}
