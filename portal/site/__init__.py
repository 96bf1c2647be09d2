"""A company's own portal on the customer pages: host routing for its domain, its stylesheet,
script and analytics on its pages, and their Content-Security-Policy."""
