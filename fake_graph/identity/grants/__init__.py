"""One module per OAuth 2.0 grant the token endpoint serves."""
