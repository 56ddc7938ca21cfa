vcl 4.1;
backend default none;
