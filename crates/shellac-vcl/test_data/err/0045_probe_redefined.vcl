vcl 4.1;
probe p { }
probe p { }
backend default { .host = "127.0.0.1"; .probe = p; }
