# vmods bundled with Varnish 7.1 that Shellac does not have: each refused, saying why.
vcl 4.1;
import blob;
import proxy;
import unix;
import vtc;
import header;
backend b { .host = "127.0.0.1"; .port = "8080"; }
