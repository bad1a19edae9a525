"""RPIC road works: excavation permits checked for conflicts, dig bans, embargoes and notice
(rules.py, pure), fees (fees.py), the 3D pipeline registry and locate requests (pipes.py),
penalties (penalties.py), live sites and the public works map. service.py holds the permit
use cases, api.py their routes; docs/roadworks.md tells the whole story."""

from onecity.core.modules import Module
from onecity.core.platform import Platform
from onecity.core.workers import Loop
from onecity.roadworks import api


def deemed_grant_loop(p: Platform, every_s: float = 600.0) -> Loop:
    """Grant the applications the city did not answer in time, every 10 minutes."""
    return Loop("roadworks-deemed", every_s, lambda: api.service_for(p).deem_granted())


MODULE = Module(
    name="roadworks",
    routers=(api.router,),
    loops=(deemed_grant_loop,),
)
