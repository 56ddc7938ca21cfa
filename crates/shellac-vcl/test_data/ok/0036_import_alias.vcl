vcl 4.1;
import std as s;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { s.log("x"); }
