"""The neighbourhood's domain, pure Python: areas, residents' memberships, messages, initiatives."""
