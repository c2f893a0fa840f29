"""Users, roles held in scopes, logins, tokens and institution API clients."""
