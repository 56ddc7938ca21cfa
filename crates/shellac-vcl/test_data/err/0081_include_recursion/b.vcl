include "a.vcl";
