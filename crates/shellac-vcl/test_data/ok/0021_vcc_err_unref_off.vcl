# options: vcc_err_unref=off
vcl 4.1;
backend default { .host = "127.0.0.1"; }
backend spare { .host = "127.0.0.1"; }
probe p { }
acl a { "127.0.0.1"; }
sub helper { }
