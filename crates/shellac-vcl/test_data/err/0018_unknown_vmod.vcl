vcl 4.1;
import nope;
import nosuch;
backend default { .host = "127.0.0.1"; }
