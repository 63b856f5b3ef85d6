"""GraphQL: the journeys domain."""
