vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_recv { if (req.url ~ "a\Kb") { return (pass); } if (req.url ~ "\Qa.b\E") { return (pass); } if (req.url ~ "\p{L}") { return (pass); } if (req.url ~ "(?R)") { return (pass); } }
