"""GraphQL: the orgs domain."""
