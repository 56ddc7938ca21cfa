vcl 4.0;
backend default { .path = "/run/x.sock"; }
