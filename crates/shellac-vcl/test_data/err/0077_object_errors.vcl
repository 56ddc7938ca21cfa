vcl 4.1;
import directors;
backend default { .host = "127.0.0.1"; }
sub vcl_init {
	new rr = directors.round_robin();
	rr.add_backend(default);
	new sh = directors.shard();
	new bad = std.log("x");
	new rnd = directors.random();
	rnd.add_backend(default);
	rr.nosuch();
	new rr = directors.round_robin();
}
sub vcl_recv { set req.backend_hint = rr; set req.backend_hint = directors.round_robin(); }
