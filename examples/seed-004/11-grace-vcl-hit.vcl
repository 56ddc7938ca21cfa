vcl 4.0;
# The book quotes Varnish 4's builtin vcl_hit; 'return (miss)' there is a compatibility
# extension of Shellac (Varnish 7.1 rejects it) and behaves as a miss.
backend default { .host = "web001.example.com"; }
sub vcl_hit {
if (obj.ttl >= 0s) {
// A pure unadultered hit, deliver it
return (deliver);
}
if (obj.ttl + obj.grace > 0s) {
// Object is in grace, deliver it
// Automatically triggers a background fetch
return (deliver);
}
// fetch & deliver once we get the result
return (miss);
}
