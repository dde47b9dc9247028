"""Vigie: statistical observatory and psychosocial-risk watch of a social service.

Data flows one way: files -> ingest -> store -> disclosure (publication) -> views -> pages.
"""
