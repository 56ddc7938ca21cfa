vcl 4.1;
# hash
// slashes
/* block
 comment */
backend default { .host = "127.0.0.1"; }
sub vcl_recv { /* inline */ return (pass); # end
}
