"""What every Wijkaanpak service needs and nothing domain-specific.

settings, database and migrations, the event catalog and CloudEvents envelope, the outbox
relay, the idempotent consumer runner, auth, problem+json errors, health, logs and metrics.
"""
