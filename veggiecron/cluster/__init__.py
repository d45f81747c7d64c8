"""Several nodes on one PostgreSQL database: claims under leases, fenced results, reaping."""

from .scheduler import ClusterScheduler, ClusterSettings, node_identity

__all__ = ["ClusterScheduler", "ClusterSettings", "node_identity"]
