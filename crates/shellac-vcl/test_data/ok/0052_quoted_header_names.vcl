# Header names varnishd 7.1 takes: quoted (VCL 4.1), with a dot or any token character, up to 126
# characters.
vcl 4.1;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv {
    set req.http."X-Dotted.Name" = "1";
    set req.http."a~b!#$%&*+^_`|" = req.http."user-agent";
    set req.http.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx = "126";
    unset req.http."X-Dotted.Name";
}
