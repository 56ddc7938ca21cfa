# varnishd 7.1 takes a repeated version declaration later in the file (the first one counts).
vcl 4.1;
backend default { .host = "127.0.0.1"; }
vcl 4.1;
