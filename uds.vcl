vcl 4.1;
probe p { .url = "/"; .interval = 1s; .initial = 2; }
backend app { .path = "/tmp/t/d/app.sock"; .probe = p; }
