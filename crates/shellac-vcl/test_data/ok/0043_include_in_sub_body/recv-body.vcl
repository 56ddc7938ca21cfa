if (req.url == "/admin") { return (pass); }
