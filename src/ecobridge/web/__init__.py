"""Web pages: templates, static assets, translations."""
