"""Talking to Salesforce: the OAuth login, one HTTP session with retries and limits, bounds on every exchange, and which URLs may receive a credential."""
