# Header names varnishd 7.1 refuses: characters outside a token, a dot unquoted, more than 126
# characters.
vcl 4.1;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv {
    set req.http."a b" = "1";
    unset req.http."a:b";
    set req.http.x = req.http."a@b";
    set req.http.a.b = "1";
    set req.http.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx = "127";
}
