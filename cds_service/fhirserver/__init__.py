"""A read-only FHIR R4 server over fixture Bundles: ``ketamine-cds fhir-server``."""

from cds_service.fhirserver.app import FhirStore, create_fhir_app

__all__ = ["FhirStore", "create_fhir_app"]
