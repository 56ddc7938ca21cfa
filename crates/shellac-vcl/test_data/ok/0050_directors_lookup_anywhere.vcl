# directors.lookup() compiles anywhere, as in varnishd 7.1; outside vcl_init and vcl_fini it
# fails at run time.
vcl 4.1;
import directors;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { set req.backend_hint = directors.lookup("default"); }
