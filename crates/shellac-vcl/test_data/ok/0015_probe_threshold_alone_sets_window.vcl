vcl 4.1;
probe p { .threshold = 3; }
backend default { .host = "127.0.0.1"; .probe = p; }
