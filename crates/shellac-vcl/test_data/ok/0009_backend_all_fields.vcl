vcl 4.1;
backend default {
	.host = "127.0.0.1";
	.port = "8080";
	.host_header = "example.com";
	.connect_timeout = 1s;
	.first_byte_timeout = 2s;
	.between_bytes_timeout = 3s;
	.max_connections = 100;
	.proxy_header = 2;
	.probe = { .url = "/health"; }
}
