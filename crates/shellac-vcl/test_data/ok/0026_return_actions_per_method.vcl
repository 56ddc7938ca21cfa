vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { if (req.http.a) { return (synth(404)); } if (req.http.b) { return (synth(701, "Custom")); } if (req.http.c) { return (restart); } if (req.http.d) { return (vcl(other)); } return (fail); }
sub vcl_pipe { return (pipe); }
sub vcl_pass { return (fetch); }
sub vcl_hash { hash_data(req.url); return (lookup); }
sub vcl_purge { return (synth(200, "Purged")); }
sub vcl_hit { return (deliver); }
sub vcl_miss { return (fetch); }
sub vcl_deliver { return (deliver); }
sub vcl_synth { synthetic("x"); return (deliver); }
sub vcl_backend_fetch { return (fetch); }
sub vcl_backend_response { if (beresp.status == 500) { return (retry); } if (beresp.status == 404) { return (pass(10s)); } if (beresp.status == 418) { return (error(503, "Teapot")); } return (deliver); }
sub vcl_backend_error { return (abandon); }
sub vcl_init { return (ok); }
sub vcl_fini { return (ok); }
