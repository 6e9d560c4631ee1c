"""Queries: scene facts, 3-valued spatial relations, programs + checker, templates, sampler."""
