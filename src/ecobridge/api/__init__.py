"""HTTP interfaces: the app factory and router assembly."""
