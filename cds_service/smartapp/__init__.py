"""The TRD and course view (issue 17): a SMART on FHIR app launched from the cards.

So far: what the view shows, built from the same assessment as the cards (``timeline``), and
its chart, drawn on the server as SVG (``charts``). The launch, the session and the routes
come next.
"""
