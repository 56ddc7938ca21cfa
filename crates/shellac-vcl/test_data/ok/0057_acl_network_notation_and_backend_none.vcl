# What varnishd 7.1 reads in ACLs and backends beyond the usual forms: network notation ("10.1.1"
# is 10.1.1.0/24), the negation and mask inside an optional entry, `none` in any case.
vcl 4.1;
backend dummy None;
acl a { "10.1.1"/25; "10.1.3"/26; "10.2.66"/23; ! "10.2.64"/23; ! "10.3"; }
acl o { ("nonexistent.invalid" / 22); (!"nonexistent.invalid"); "127.0.0.1"; }
sub vcl_recv { set req.backend_hint = dummy; if (client.ip ~ a || client.ip ~ o) { return (pass); } }
