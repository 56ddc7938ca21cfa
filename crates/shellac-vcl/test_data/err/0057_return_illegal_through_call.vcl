vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub f { return (hash); }
sub vcl_recv { call f; }
sub vcl_deliver { call f; }
