"""The channel between the kernel and the JupyterLab sidebar (see ``protocol``)."""

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
