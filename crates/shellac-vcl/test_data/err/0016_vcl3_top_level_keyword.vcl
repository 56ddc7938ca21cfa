vcl 4.1;
backend default { .host = "127.0.0.1"; }
bogus foo { }
sub vcl_recv { return (pass); }
backend x { .host = "127.0.0.1" }
