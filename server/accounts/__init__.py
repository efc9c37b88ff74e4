"""Accounts (账号): logging in and out, and who a token belongs to."""
