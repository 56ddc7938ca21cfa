# ACL entries varnishd 7.1 refuses: bits set past the mask (pedantic is the default), one entry
# both included and excluded, a flag of a later Varnish.
vcl 4.1;
backend b { .host = "127.0.0.1"; .port = "8080"; }
acl a { "127.0.0.1"/24; "::1"/64; "10.0.0.0"/8; !"10.0.0.0"/8; }
acl f +fold { "10.0.0.0"/8; }
sub vcl_recv { if (client.ip ~ a || client.ip ~ f) { return (pass); } }
