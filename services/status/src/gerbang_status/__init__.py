"""Gerbang status service: passport application progress, for the applicant only."""
