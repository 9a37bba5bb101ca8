"""The channel between the kernel and the JupyterLab sidebar (see ``protocol``).

An entry point: it may import every layer below it (``plan``, ``backends``, ``plots``, ``mining``,
``ops``, ``engine``, ``runtime``, the bottom layer) and the other entry points; no layer below
imports it (results reach it only through ``llm_magics.conveniences``).
"""

from llm_magics.comm.channel import SidebarChannel, register_comm_target, sidebar_state
from llm_magics.comm.protocol import ACTIONS, PROTOCOL_VERSION, TARGET

__all__ = [
    "ACTIONS",
    "PROTOCOL_VERSION",
    "TARGET",
    "SidebarChannel",
    "register_comm_target",
    "sidebar_state",
]
