"""The sidebar's operations block when runs execute on queue workers (``AGENT_QUEUE=procrastinate``).

Workers alive (heartbeat within ``AGENT_WORKER_STALLED_AFTER``), silent ones (their runs go back
to the queue through the stalled-job sweep), queue depth and the oldest waiting job: read through
``agent_core.queue_health``, never SQL here.
"""

from __future__ import annotations

import streamlit as st

from agent_core import AgentError, Settings, queue_health
from ui.format import human_duration, plural


def sidebar(settings: Settings) -> None:
    """Nothing without a queue; else the workers and the queue, or one line saying why they cannot be read."""
    if not settings.agent_queue:
        return
    st.caption("Workers")
    try:
        health = queue_health(settings)
    except AgentError as error:
        st.text(f"unavailable: {error}")
        return
    alive = plural(health.workers_alive, "worker") + " alive"
    if health.workers_silent:
        alive += f", {health.workers_silent} silent (their runs are handed on)"
    st.text(alive)
    if not health.workers_alive:
        st.warning("No worker is running: start one with `python -m agent_core worker`.", icon=":material/warning:")
    st.caption("Queue")
    waiting = f"{health.running} running · {health.waiting} waiting"
    if health.oldest_waiting_s is not None:
        waiting += f" · oldest {human_duration(health.oldest_waiting_s)}"
    st.text(waiting)
