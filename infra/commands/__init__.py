"""`timeline`, the project's console (infra.commands.app), and what its commands share.

Importing this package costs nothing: infra.cli reads its defaults from infra.commands.defaults.
"""
