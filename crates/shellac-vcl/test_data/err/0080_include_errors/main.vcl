vcl 4.1;
backend default { .host = "127.0.0.1"; }
include "missing.vcl";
include "./also/missing.vcl";
include +glob "none/*.vcl";
include +bogus "x.vcl";
include nosuch;
