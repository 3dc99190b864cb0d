"""The event catalog (one pydantic model per event type) and the CloudEvents envelope."""
