vcl 4.1;
probe p { .timeout = 2; }
backend default { .host = "127.0.0.1"; .probe = p; }
