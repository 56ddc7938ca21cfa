# Seed 000, /etc/varnish/default.vcl as the article writes it (Varnish 3 era: no 'vcl 4.0;'
# line, which Shellac accepts with a warning). The article includes
# "/etc/varnish/config.d/backends.vcl"; with the default vcl_path (/etc/varnish) the name
# below is the same file, and it lets this copy be checked in place with
# `-p vcl_path=examples/seed-000`.

# Available backends
include "config.d/backends.vcl";
include "config.d/directors.vcl";

sub vcl_recv {
    # Don't caching anything at the moment
    return (pass);
}
