"""CDS Hooks 2.0 protocol layer: models, discovery, prefetch, FHIR callbacks, HTTP routes.

It knows nothing about ketamine. Services plug in through ``discovery.ServiceRegistry``.
"""
