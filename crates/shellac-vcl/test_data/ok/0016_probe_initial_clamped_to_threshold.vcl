vcl 4.1;
probe p { .window = 8; .threshold = 3; .initial = 7; .interval = 0.5s; .timeout = 0s; }
backend default { .host = "127.0.0.1"; .probe = p; }
