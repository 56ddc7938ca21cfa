vcl 4.1;
import std;
backend default { .host = "127.0.0.1"; .probe = helth; }
probe health { .url = "/"; }
acl office { "127.0.0.1"; }
sub helper { }
sub vcl_recv {
    call helpr;
    set req.ulr = "/";
    set req.htpp.x-a = "1";
    std.lgo("x");
    sdt.log("x");
    set req.url = regsubb(req.url, "a", "b");
    if (client.ip ~ ofice) { return (pas); }
    set req.backend_hint = defualt;
    set req.http.x-b = req.nothing_like_it;
}
