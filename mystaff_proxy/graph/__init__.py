"""Microsoft Graph as the proxy uses it: the HTTP client (``$batch``, retries, errors), the
app's credential, and the operations the staff services need.
"""

from mystaff_proxy.graph.client import BatchRequest, GraphClient, GraphResponse
from mystaff_proxy.graph.connect import GraphConnection, connect, ssl_context
from mystaff_proxy.graph.credentials import AppToken
from mystaff_proxy.graph.exceptions import (
    GraphBadRequest,
    GraphConflict,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    GraphThrottled,
    GraphUnauthorized,
    GraphUnavailable,
)
from mystaff_proxy.graph.operations import GraphOperations

__all__ = [
    "AppToken",
    "BatchRequest",
    "GraphBadRequest",
    "GraphClient",
    "GraphConflict",
    "GraphConnection",
    "GraphError",
    "GraphForbidden",
    "GraphNotFound",
    "GraphOperations",
    "GraphResponse",
    "GraphThrottled",
    "GraphUnauthorized",
    "GraphUnavailable",
    "connect",
    "ssl_context",
]
