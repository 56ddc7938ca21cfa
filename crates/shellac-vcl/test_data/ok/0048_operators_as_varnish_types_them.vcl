# Operators Varnish 7.1 accepts (each checked with varnishd -C 7.1.1): string ordering, a REAL
# compared with an INT, `+` of anything in a string context, BYTES units where BYTES is wanted,
# BOOL literals in any case.
vcl 4.1;
import std;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv {
    if (req.http.a < "m" || req.url >= req.http.b) {}
    if (1.5 > 1 && std.bytes("1", 0B) > 1KB) {}
    set req.http.x = 1 + 1s;
    set req.http.y = true + client.ip + b + now;
    set req.http.z = std.bytes("1", 0B) + 1KB;
    std.cache_req_body(1KB + 1KB);
    std.log(1 + 1s);
    set req.http.t = True;
    if (client.ip == "127.0.0.1") {}
    return (synth(200, 1 + 1s));
}
