vcl 4.1;
probe p { .window = 3; .threshold = 5; }
backend default { .host = "127.0.0.1"; .probe = p; }
