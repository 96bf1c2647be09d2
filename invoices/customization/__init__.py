"""The company's own portal: custom domain, stylesheet, script, CSP trusted sites, analytics."""
