"""Sub-commands of the ``twin`` CLI: plain functions, one module per concern, that :mod:`twin.cli` wires onto its app."""
