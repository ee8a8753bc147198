"""The lab's world model: ONTAP storage, Windows hosts, and the LUN contents they share."""
from .files import FileTree, LunContent, normalize
from .world import World

__all__ = ["FileTree", "LunContent", "World", "normalize"]
