"""Regression tests from security and input hardening that cut across subdomains (sockets, odd numbers, audit gaps)."""
