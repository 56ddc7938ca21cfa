vcl 4.1;
backend b { .host = "127.0.0.1"; }
backend c { .host = "127.0.0.1"; .foo = 1; }
sub helper { }
sub vcl_recv { call helpr; }
