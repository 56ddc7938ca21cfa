vcl 4.1;
backend default { .host = "nosuch.invalid"; }
