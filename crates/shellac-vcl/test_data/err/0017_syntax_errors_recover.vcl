vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv {
	set req.http.a = ;
	set req.http.b == "x";
	if req.url { }
	call;
}
sub vcl_deliver { error 503 "x"; }
