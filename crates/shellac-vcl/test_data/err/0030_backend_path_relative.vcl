vcl 4.1;
backend default { .path = "run/x.sock"; }
