"""The tenancy kernel: org context, RLS policies, roles. See README.md in this folder."""
