# The std functions of Varnish 7.1 beyond the conversions: each accepted by varnishd -C 7.1.1.
vcl 4.1;
import std;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_init {
    if (std.file_exists("/etc/hostname") && std.syntax(4.0)) {
        std.log(std.getenv("HOME"));
    }
}
sub vcl_recv {
    set req.http.a = std.real2time(1.5, now);
    set req.http.b = std.time2integer(now, 0) + std.real2integer(1.5, 0);
    set req.http.c = std.time2real(now, 0.0);
    set req.http.d = std.strftime(now, "%Y%m%dT%H%M%SZ");
    set req.http.e = std.fileread("/etc/hostname");
    set req.http.f = std.blobread("/etc/hostname");
    std.rollback(req);
}
sub vcl_pipe { std.rollback(req); }
sub vcl_backend_fetch { std.rollback(bereq); }
sub vcl_backend_response { std.rollback(beresp); }
sub vcl_deliver { std.rollback(resp); }
