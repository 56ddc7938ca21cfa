vcl 4.1;
backend default { .host = "127.0.0.1"; }
acl purgers -log {
	"localhost";
	"192.168.0.0"/16;
	! "192.168.1.1";
	("unknown.invalid");
	"::1"/128;
}
sub vcl_recv {
	if (req.method == "PURGE") {
		if (client.ip !~ purgers) { return (synth(405, "Not allowed")); }
		return (purge);
	}
}
