"""The GraphQL edge: view, request context, loaders, pagination, limits and errors.

Named `productgraph.graphql`, never a top-level `graphql` package: that would shadow
graphql-core. The schema itself is the GraphQL tier's (`graphql_api/`, a folder per
domain); nothing here imports an app.
"""
