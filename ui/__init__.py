"""Streamlit-only helpers shared by the pages: the cached Workbench, formatting, charts, tables.

Dependencies point one way: pages -> ui -> agent_core. Nothing in ``agent_core`` imports this.
"""
