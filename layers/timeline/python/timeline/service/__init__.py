"""Domain rules: accounts, the social graph, posting, fan-out, and timeline reads."""
