"""The GraphQL gateway: one schema over the four services, and the public REST edge for partner systems."""
