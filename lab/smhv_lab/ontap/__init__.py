"""The simulated ONTAP REST API: one HTTPS endpoint per cluster of the lab's world."""
from .server import OntapServer

__all__ = ["OntapServer"]
