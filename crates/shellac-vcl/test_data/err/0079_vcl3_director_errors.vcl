vcl 4.1;
backend b1 { .host = "127.0.0.1"; }
director d1 dns { { .backend = b1; } }
director d2 rotating { { .backend = b1; } }
director d3 round-robin { .retries = 2; { .weight = 1; } { .backend = { .host = "127.0.0.1"; } } { .backend = nosuch; } }
