vcl 4.1;
import etcd;
import nosuch;
backend default { .host = "127.0.0.1"; }
