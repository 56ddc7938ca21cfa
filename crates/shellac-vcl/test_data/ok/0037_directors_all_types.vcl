vcl 4.1;
import directors;
backend a { .host = "127.0.0.1"; }
backend b { .host = "127.0.0.1"; .port = "81"; }
sub vcl_init {
	new rr = directors.round_robin();
	rr.add_backend(a);
	rr.add_backend(b);
	new fb = directors.fallback(sticky = true);
	fb.add_backend(a);
	new rnd = directors.random();
	rnd.add_backend(a, 1);
	rnd.add_backend(b, 2.5);
	new h = directors.hash();
	h.add_backend(a);
	h.add_backend(b, 2.0);
	fb.add_backend(rr.backend());
	rr.remove_backend(b);
}
sub vcl_recv {
	if (req.http.x) { set req.backend_hint = h.backend(req.http.cookie + client.ip); }
	elseif (req.http.y) { set req.backend_hint = rnd.backend(); }
	else { set req.backend_hint = fb.backend(); }
}
