"""HTTP handlers: thin translations from requests to domain calls and back."""
