"""News ingestion engine: sources -> extract -> enrich -> dedup -> load -> validate.

Imports nothing from Airflow; the CLI and the DAGs are thin wiring over these stages.
"""
