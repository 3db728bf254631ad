"""Clinical rules: pure functions, PatientRecord + ClinicalSettings -> findings.

No Flask, no protocol models, no I/O, no card wording. Each rule module opens with the
rules it implements and their sources (docs/clinical-basis.md).
"""
