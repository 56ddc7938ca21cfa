# A quoted header name is VCL 4.1 syntax.
vcl 4.0;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv { set req.http."X-Name" = "1"; }
