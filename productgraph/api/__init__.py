"""Shared REST plumbing: the error envelope and its codes."""
