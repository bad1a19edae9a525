"""RPIC road works: excavation permits checked for conflicts, dig bans, embargoes and notice
(rules.py, pure), fees (fees.py), the 3D pipeline registry and locate requests (pipes.py),
penalties (penalties.py), live sites and the public works map. service.py holds the permit
use cases, api.py their routes; docs/roadworks.md tells the whole story."""

from pathlib import Path

from onecity.core.auth.permissions import Perm, Principal, Role
from onecity.core.modules import MapLayer, Module, Page
from onecity.core.platform import Platform
from onecity.core.workers import Loop
from onecity.roadworks import overview, services
from onecity.roadworks.cli import roadworks_app
from onecity.roadworks.permits import api, locate_desk
from onecity.roadworks.public import api as public_api
from onecity.roadworks.public import reports
from onecity.roadworks.registry import api as registry_api
from onecity.roadworks.services import RoadworksServices
from onecity.roadworks.sites import api as sites_api

HERE = Path(__file__).parent


def sees_permits(who: Principal, p: Platform) -> bool:
    """RPIC's pages show the records of the department that runs the permits."""
    return who.sees_department(p.services(RoadworksServices).permits.config.department)


PAGES = (
    # Public: what is dug where is for everybody (like GET …/public/works.geojson).
    Page(
        path="/roadworks/map",
        template="roadworks/map.html",
        title="roadworks.map.title",
        nav="roadworks.nav.map",
        public=True,
    ),
    Page(
        path="/roadworks/monitor",
        template="roadworks/monitor.html",
        title="roadworks.monitor.title",
        nav="roadworks.nav.monitor",
        permission=Perm.ROADWORKS_READ.value,
        check=sees_permits,
        refused="roadworks.monitor.refused",
    ),
    Page(
        path="/roadworks/permits",
        template="roadworks/permits.html",
        title="roadworks.permits.title",
        nav="roadworks.nav.permits",
        permission=Perm.ROADWORKS_READ.value,
        check=sees_permits,
        refused="roadworks.permits.refused",
    ),
    # RPIC's registry: who digs and their penalties, the pipeline map, the rules.
    Page(
        path="/roadworks/contractors",
        template="roadworks/contractors.html",
        title="roadworks.contractors.title",
        nav="roadworks.nav.contractors",
        permission=Perm.ROADWORKS_READ.value,
        check=sees_permits,
        refused="roadworks.contractors.refused",
    ),
    Page(
        path="/roadworks/pipes",
        template="roadworks/pipes.html",
        title="roadworks.pipemap.title",
        nav="roadworks.nav.pipes",
        permission=Perm.ROADWORKS_READ.value,
        check=sees_permits,
        refused="roadworks.pipemap.refused",
    ),
    Page(
        path="/roadworks/rules",
        template="roadworks/rules.html",
        title="roadworks.rules.title",
        nav="roadworks.nav.rules",
        permission=Perm.ROADWORKS_READ.value,
        check=sees_permits,
        refused="roadworks.rules.refused",
    ),
    # Any logged-in user: the API lets RPIC, the applicant's and contractor's staff and the
    # pipe owners asked to mark their pipes see a permit, and says "no such permit" to others.
    Page(
        path="/roadworks/permits/{ref}",
        template="roadworks/permit.html",
        title="roadworks.permit.title",
    ),
    # A contractor's or utility's own permits: the register, listing what the API lets them see.
    Page(
        path="/roadworks/my-permits",
        template="roadworks/permits.html",
        title="roadworks.mine.title",
        nav="roadworks.mine.nav",
        permission=Perm.ROADWORKS_APPLY.value,
        home_for=(Role.CONTRACTOR.value,),
    ),
    Page(
        path="/roadworks/apply",
        template="roadworks/apply.html",
        title="roadworks.apply.title",
        nav="roadworks.nav.apply",
        permission=Perm.ROADWORKS_APPLY.value,
    ),
    Page(
        path="/roadworks/locates",
        template="roadworks/locates.html",
        title="roadworks.locates.title",
        nav="roadworks.nav.locates",
        permission=Perm.ROADWORKS_APPLY.value,
    ),
)


def deadlines_loop(p: Platform, every_s: float = 600.0) -> Loop:
    """Every 10 minutes: grant the applications the city did not answer in time, and tell
    RPIC about locate requests their pipe owners let pass."""

    def step() -> None:
        svc = p.services(RoadworksServices).permits
        svc.deem_granted()
        locate_desk.escalate_overdue(svc)

    return Loop("roadworks-deadlines", every_s, step)


MODULE = Module(
    name="roadworks",
    build=services.build,
    routers=(api.router, sites_api.router, public_api.router, registry_api.router),
    cli=roadworks_app,
    loops=(deadlines_loop,),
    open311_services=reports.SERVICES,
    department=reports.DEPARTMENT,
    layers=(
        MapLayer(
            id="roadworks",
            title={"zh-TW": "道路施工", "en": "Road works"},
            geojson_url="/api/v1/roadworks/public/works.geojson",
        ),
    ),
    pages=PAGES,
    cards=overview.CARDS,
    templates=HERE / "templates",
    static=HERE / "static",
    i18n=HERE / "i18n",
)
