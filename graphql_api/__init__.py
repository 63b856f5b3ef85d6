"""The GraphQL tier: the schema and a folder per domain (types, selectors, mutations).

It sits on top of the apps and imports them; no app imports it (pyproject.toml's
import-linter contract). The view, limits, loaders and errors it runs under are the
kernel's (`productgraph/graphql/`); the printed schema is committed as `schema.graphql`.
"""
