# ACL flags of Varnish 7.1 and what they allow (each checked with varnishd -C 7.1.1): bits past
# the mask under -pedantic (a warning), the same entry twice, a wider and a narrower prefix of
# opposite sense.
vcl 4.1;
backend b { .host = "127.0.0.1"; .port = "8080"; }
acl loose -pedantic +log { "10.1.0.0"/8; }
acl plain +table { "127.0.0.1"; "127.0.0.1"; "192.168.0.0"/16; !"192.168.1.0"/24; }
sub vcl_recv { if (client.ip ~ loose || client.ip ~ plain) { return (pass); } }
