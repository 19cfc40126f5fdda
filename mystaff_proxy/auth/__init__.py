"""Who is asking: sign-in with Entra (MSAL), sessions, bearer tokens, standing, re-authentication.

``signin`` runs the auth-code + PKCE flow; ``sessions`` and ``bearer`` turn a cookie or a token
into a principal; ``standing`` re-checks that the account is still enabled; ``reauth`` asks for
a fresh sign-in; ``delegation`` keeps a manager's own Graph tokens in manager mode;
``redirects`` keeps every redirect on this site.
"""
