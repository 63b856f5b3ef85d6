"""GraphQL: the sessions domain."""
