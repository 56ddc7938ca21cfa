# Variables of Varnish 7.1 (each accepted by varnishd -C 7.1.1): the top request, the session's
# timeouts, the filter lists, bereq.hash, and reading the ESI and storage ones.
vcl 4.1;
backend b { .host = "127.0.0.1"; .port = "8080"; }
sub vcl_recv {
    set req.http.top = req_top.url + req_top.method + req_top.proto + req_top.http.host + req_top.time;
    set sess.timeout_idle = 10s;
    set sess.send_timeout = sess.send_timeout * 2;
    set sess.timeout_linger = 0.1s;
    set req.http.s = sess.idle_send_timeout + req.storage;
}
sub vcl_backend_fetch { set bereq.http.hash = bereq.hash; }
sub vcl_backend_response { set beresp.filters = "gunzip"; set beresp.http.f = beresp.filters; }
sub vcl_deliver { set resp.filters = resp.filters + " range"; set resp.http.esi = resp.do_esi; }
