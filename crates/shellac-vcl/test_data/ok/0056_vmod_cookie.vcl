# vmod cookie of Varnish 7.1, every function (varnishd -C 7.1.1 accepts it).
vcl 4.1;
import cookie;
import std;
backend b { .host = "127.0.0.1"; .port = "9"; }
sub vcl_recv { return (synth(200)); }
sub vcl_synth {
  cookie.parse(req.http.c);
  set resp.http.s0 = "[" + cookie.get_string() + "]";
  set resp.http.a = "[" + cookie.get("a") + "]";
  set resp.http.isset-b = cookie.isset("b");
  set resp.http.isset-z = cookie.isset("z");
  set resp.http.re = "[" + cookie.get_re("^b") + "]";
  cookie.set("n", "v1");
  cookie.set("a", "A2");
  set resp.http.s1 = "[" + cookie.get_string() + "]";
  cookie.delete("n");
  cookie.filter("x, b");
  set resp.http.s2 = "[" + cookie.get_string() + "]";
  cookie.parse(req.http.c);
  cookie.keep("a,c");
  set resp.http.s3 = "[" + cookie.get_string() + "]";
  cookie.parse(req.http.c);
  cookie.filter_re("^[ab]$");
  set resp.http.s4 = "[" + cookie.get_string() + "]";
  cookie.parse(req.http.c);
  cookie.keep_re("^[ab]$");
  set resp.http.s5 = "[" + cookie.get_string() + "]";
  cookie.clean();
  set resp.http.s6 = "[" + cookie.get_string() + "]";
  set resp.http.fd = cookie.format_date(std.real2time(1140618699, now), 5m);
}
