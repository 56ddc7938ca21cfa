vcl 4.1;
import std;
backend default { .host = "127.0.0.1"; }
sub vcl_recv {
	set req.http.a = std.integer();
	set req.http.b = std.integer(s = "1", real = 1.0);
	set req.http.c = std.tolower("a", "b");
	set req.http.d = std.tolower(nosuch = "a");
	set req.http.e = regsub(req.url, "x");
	set req.http.f = std.nosuch("x");
	set req.http.g = nosuch("x");
	set req.http.h = std.tolower(s = "a", s = "b");
	std.collect(req.url);
}
