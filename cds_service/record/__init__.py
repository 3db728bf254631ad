"""FHIR R4 resources -> a typed, read-only PatientRecord, and the terminology it needs.

Reads plain dicts tolerantly: missing fields, unknown codes and odd types never raise.
"""
