vcl 4.1;
probe p {
	.request =
		"GET /probe.txt HTTP/1.1"
		"Host: example.com"
		"Connection: close";
	.expected_response = 204;
}
backend default { .host = "127.0.0.1"; .probe = p; }
