# Operators Varnish 7.1 refuses (each checked with varnishd -C 7.1.1).
vcl 4.1;
import std;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv {
    if (req.url == 1) {}
    if (1 == 1.5) {}
    if (1s > 1) {}
    if (req.http.a ~ "x" && 1 ~ "x") {}
    if (1.5) {}
    set req.http.a = 2 * 1s;
    set req.http.b = 1 * 1.5;
    set req.http.c = 1KB;
    std.cache_req_body(1024);
    if (1 + "a") {}
}
