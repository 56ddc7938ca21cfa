vcl 4.1;
probe p { .expected_response = 20; }
backend default { .host = "127.0.0.1"; .probe = p; }
