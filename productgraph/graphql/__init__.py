"""The GraphQL edge: view, request context, loaders, pagination, limits and errors.

Named `productgraph.graphql`, never a top-level `graphql` package: that would shadow
graphql-core. The schema itself is assembled in `productgraph/schema.py` from the apps'
`graphql_types` modules; nothing here imports an app.
"""
