vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_deliver { return (pass); }
sub vcl_backend_fetch { return (deliver); }
sub vcl_init { return (synth(200)); }
