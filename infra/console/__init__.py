"""`timeline`, the project's console (infra.console.app), and what its commands share.

Importing this package costs nothing: infra.console.up reads its defaults from infra.console.defaults.
"""
