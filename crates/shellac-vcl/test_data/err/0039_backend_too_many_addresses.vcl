vcl 4.1;
backend default { .host = "multi.example.net"; }
