include "b.vcl";
