"""GraphQL: the events domain."""
