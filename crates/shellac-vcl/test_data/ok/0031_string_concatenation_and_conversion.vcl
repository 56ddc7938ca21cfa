vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv {
	set req.http.a = "a" + 1 + 2;
	set req.http.b = 1 + "a";
	set req.http.c = 1.5 + 2;
	set req.http.d = true;
	set req.http.e = 10s;
	set req.http.f = req.backend_hint;
	set req.http.g = req.http.a + req.http.b;
	set req.http.h += "-suffix";
}
