vcl 4.1;
backend default { .host = "127.0.0.1"; }
sub vcl_synth {
	set resp.body = {"<p>"quoted"</p>
"} + """more "text" here""";
	return (deliver);
}
