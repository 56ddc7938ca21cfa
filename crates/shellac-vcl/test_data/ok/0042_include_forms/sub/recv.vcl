include "./deliver.vcl";
sub vcl_recv { return (pass); }
