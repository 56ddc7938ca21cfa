# std.rollback takes a whole message, where it exists; a BLOB has no truth value.
vcl 4.1;
import std;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv {
    std.rollback(req.http);
    std.rollback(bereq);
    if (std.blobread("/etc/hostname")) {}
}
sub vcl_init { std.rollback(req); }
