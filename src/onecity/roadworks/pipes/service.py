"""The pipeline map's use cases: record a pipe, read the pipes in a box (as 3D GeoJSON), and
take a permit's as-built survey, which retires the records it replaces and adds the new ones
in one unit of work. A retired record stays (with `replaced_by`) but no locate finds it."""

from __future__ import annotations

from typing import Any

from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import audit
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import utcnow
from onecity.core.errors import Conflict, Forbidden, Invalid
from onecity.core.geo import parse_bbox
from onecity.roadworks.permits import checks, spatial
from onecity.roadworks.permits.models import LocateRequest, Permit
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.pipes.models import PipeRow
from onecity.roadworks.registry import geo as registry_geo
from onecity.roadworks.registry import schemas as rs
from onecity.roadworks.registry.models import RoadOrg
from onecity.roadworks.rules import footprint
from onecity.roadworks.rules import pipes as pipe_rules
from onecity.roadworks.rules.status import PermitStatus

MAX_FEATURES = 5000  # pipes in full (3D, every fact) in one answer
# Below this zoom, or past MAX_FEATURES, every pipe in the box comes as its plan line only
# (WGS84 as stored, 1 m precision, the facts the map draws by); a pipe opens in full nearer in.
DETAIL_ZOOM = 16
MAX_OVERVIEW = 60000  # more than this in one box: the page asks to zoom in (and says how many)
# An as-built pipe must come within this distance of the permit's dug area: a survey
# records what the works touched, not pipes elsewhere in the city.
AS_BUILT_REACH_M = 10.0


def pipe_out(p: PipeRow) -> rs.PipeOut:
    return rs.PipeOut(
        id=p.id,
        owner=p.owner_code,
        kind=p.kind,
        diameter_mm=p.diameter_mm,
        material=p.material,
        year_laid=p.year_laid,
        survey=p.survey,
        accuracy_m=p.accuracy_m,
        depth_start_m=p.depth_start_m,
        depth_end_m=p.depth_end_m,
        geometry=p.geometry,
        synthetic=p.synthetic,
        retired_at=p.retired_at,
        replaced_by=p.replaced_by,
        source_permit_id=p.source_permit_id,
    )


class PipeService:
    def __init__(self, permits: PermitService) -> None:
        self.permits = permits
        self.db = permits.db
        self.city = permits.city

    def _may_record_for(self, s: Session, who: Principal, owner: str) -> None:
        """RPIC staff record anyone's pipes; a utility's staff record their own."""
        if self.permits.is_assessor(who):
            return
        require(who, Perm.ROADWORKS_APPLY)
        if owner not in self.permits.orgs_of(s, who):
            raise Forbidden(f"only {owner}'s staff or RPIC record {owner}'s pipes", field="owner")

    @staticmethod
    def _owner(s: Session, code: str, field: str) -> RoadOrg:
        org = s.get(RoadOrg, code)
        if org is None:
            raise Invalid(f"no organisation '{code}' is registered with RPIC", field=field)
        return org

    def add(self, who: Principal, body: rs.PipeIn, source: str) -> rs.PipeOut:
        with self.db.session() as s:
            self._owner(s, body.owner, "owner")
            self._may_record_for(s, who, body.owner)
            line = registry_geo.parse_line(self.city, body.geometry, crs=body.crs, field="geometry")
            row = _row(line, body.owner, body.kind, body.diameter_mm, body)
            row.material, row.survey, row.year_laid = body.material, body.survey, body.year_laid
            s.add(row)
            s.flush()
            audit.append(
                s,
                actor=who.username,
                action="roadworks.pipe.add",
                target=f"roadworks_pipe/{row.id}",
                source=source,
                detail={"owner": row.owner_code, "kind": row.kind, "box": list(line.box)},
            )
            return pipe_out(row)

    def in_box(self, who: Principal, bbox: str, zoom: int | None = None) -> dict[str, Any]:
        """Every pipe in service inside a WGS84 box, as a GeoJSON FeatureCollection: in full
        ([lon, lat, -depth] per vertex, every fact) at `zoom` >= DETAIL_ZOOM (or no zoom) when
        at most MAX_FEATURES match, else each as its plan line (`detail: "overview"`). Never
        a silent cut: past MAX_OVERVIEW no pipe comes and `zoom_in` says so, with the count."""
        if not (who.can(Perm.ROADWORKS_READ) or who.can(Perm.ROADWORKS_APPLY)):
            raise Forbidden("the pipeline map is for RPIC's and the utilities' staff")
        west, south, east, north = parse_bbox(bbox)
        in_city = self.city.bounds
        if east < in_city[0] or west > in_city[2] or north < in_city[1] or south > in_city[3]:
            raise Invalid("bbox lies outside the city", field="bbox")
        xs, ys = self.city.to_projected_many([west, east, west, east], [south, south, north, north])
        box = (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))
        with self.db.read() as s:
            ids = sorted(spatial.pipe_ids_near(s, box))
            full = len(ids) <= MAX_FEATURES and (zoom is None or zoom >= DETAIL_ZOOM)
            if not full:
                return _overview(s, ids)
            rows = sorted(spatial.pipes(s, ids), key=lambda p: p.id)
            lines = checks.project_all(self.city, [shape(p.geometry) for p in rows])
            features = []
            for row, line in zip(rows, lines, strict=True):
                feat = pipe_rules.to_geojson_3d(checks.pipe_of(row, line), self.city.from_projected)
                feat["properties"]["synthetic"] = row.synthetic
                features.append(feat)
        return {
            "type": "FeatureCollection",
            "detail": "full",
            "features": features,
            "numberMatched": len(ids),
            "numberReturned": len(features),
        }

    def of_permit(self, who: Principal, ref: str) -> dict[str, Any]:
        """The pipes a permit's locate requests name, as 3D GeoJSON ([lon, lat, -depth]), for
        whoever may read the permit. Pipes replaced since the request stay, `retired: true`:
        the crew should know the record they were told about is no longer the latest."""
        with self.db.read() as s:
            p = self.permits.find(s, ref)
            self.permits.may_read(s, who, p)
            asked = s.scalars(
                select(LocateRequest.pipe_ids).where(LocateRequest.permit_id == p.id)
            ).all()
            ids = sorted({int(i) for pipe_ids in asked for i in pipe_ids})
            rows = sorted(spatial.pipes(s, ids), key=lambda r: r.id)
            lines = checks.project_all(self.city, [shape(r.geometry) for r in rows])
            features = []
            for row, line in zip(rows, lines, strict=True):
                feat = pipe_rules.to_geojson_3d(checks.pipe_of(row, line), self.city.from_projected)
                feat["properties"].update(
                    synthetic=row.synthetic,
                    retired=row.retired_at is not None,
                    replaced_by=row.replaced_by,
                )
                features.append(feat)
        return {"type": "FeatureCollection", "permit_ref": ref, "features": features}

    def as_built(self, who: Principal, ref: str, body: rs.AsBuiltIn, source: str) -> rs.AsBuiltOut:
        """Record what the works left underground. Only once the road is restored (or the
        permit closed), by the applicant's staff or RPIC; all of it or nothing."""
        with self.db.session() as s:
            p = self.permits.find(s, ref, lock=True)
            rpic = self.permits.is_assessor(who)
            if not rpic:
                require(who, Perm.ROADWORKS_APPLY)
                if p.applicant_code not in self.permits.orgs_of(s, who):
                    raise Forbidden(f"the as-built survey of {ref} is {p.applicant_code}'s to file")
            if p.status not in (PermitStatus.RESTORED, PermitStatus.CLOSED):
                raise Conflict(
                    f"{ref} is {p.status}; the as-built survey is filed once the road is restored",
                    code="wrong_status",
                )
            dug = footprint.to_metres(self.city, p.geometry)
            now = utcnow()
            retired: list[int] = []
            created: list[PipeRow] = []
            seen: set[int] = set()
            for i, item in enumerate(body.pipes):
                where = f"pipes[{i}]"
                line = registry_geo.parse_line(
                    self.city, item.geometry, crs=item.crs, field=f"{where}.geometry"
                )
                if line.metres.distance(dug) > AS_BUILT_REACH_M:
                    raise Invalid(
                        f"{where} lies more than {AS_BUILT_REACH_M:.0f} m from the works of "
                        f"{ref}; an as-built survey records the pipes the works touched",
                        field=f"{where}.geometry",
                    )
                old = self._replaced(s, item, where, seen, p, rpic) if item.replaces else None
                row = self._new_row(s, item, where, line, old, p, rpic)
                row.source_permit_id = p.id
                s.add(row)
                s.flush()
                created.append(row)
                if old is not None:
                    old.retired_at, old.replaced_by = now, row.id
                    retired.append(old.id)
            self._record(s, who, p, retired, [r.id for r in created], body.note, source)
            return rs.AsBuiltOut(
                permit_ref=p.ref, retired=retired, created=[pipe_out(r) for r in created]
            )

    def _replaced(
        self,
        s: Session,
        item: rs.AsBuiltPipe,
        where: str,
        seen: set[int],
        p: Permit,
        rpic: bool,
    ) -> PipeRow:
        assert item.replaces is not None
        old = s.get(PipeRow, item.replaces, with_for_update=True)
        if old is None:
            raise Invalid(f"no pipe {item.replaces}", field=f"{where}.replaces")
        if old.retired_at is not None:
            raise Conflict(
                f"pipe {old.id} was already replaced by pipe {old.replaced_by}",
                code="pipe_retired",
                field=f"{where}.replaces",
            )
        if old.id in seen:
            raise Invalid(
                f"pipe {old.id} is replaced twice; give further segments replaces: null",
                field=f"{where}.replaces",
            )
        if not rpic and old.owner_code != p.applicant_code:
            raise Forbidden(
                f"pipe {old.id} is {old.owner_code}'s; its as-built record is filed by RPIC",
                field=f"{where}.replaces",
            )
        seen.add(old.id)
        return old

    def _new_row(
        self,
        s: Session,
        item: rs.AsBuiltPipe,
        where: str,
        line: registry_geo.Parsed,
        old: PipeRow | None,
        p: Permit,
        rpic: bool,
    ) -> PipeRow:
        owner = item.owner or (old.owner_code if old else None)
        kind = item.kind or (old.kind if old else None)
        diameter = item.diameter_mm or (old.diameter_mm if old else None)
        if owner is None or kind is None or diameter is None:
            name = "owner" if owner is None else "kind" if kind is None else "diameter_mm"
            raise Invalid(f"a new pipe (replaces: null) needs its {name}", field=f"{where}.{name}")
        self._owner(s, owner, f"{where}.owner")
        if not rpic and owner != p.applicant_code:
            raise Forbidden(
                f"{p.applicant_code}'s staff record {p.applicant_code}'s pipes only",
                field=f"{where}.owner",
            )
        row = _row(line, owner, kind, diameter, item)
        row.material = item.material if item.material is not None else (old.material if old else "")
        row.year_laid = item.year_laid or (old.year_laid if old else None)
        row.survey = "as-built"
        return row

    def _record(
        self,
        s: Session,
        who: Principal,
        p: Permit,
        retired: list[int],
        created: list[int],
        note: str,
        source: str,
    ) -> None:
        detail: dict[str, Any] = {"retired": retired, "created": created}
        self.permits.books.record(s, p, who.username, "as_built", note, source, detail)


def _row(
    line: registry_geo.Parsed,
    owner: str,
    kind: str,
    diameter_mm: int,
    body: rs.PipeIn | rs.AsBuiltPipe,
) -> PipeRow:
    x0, y0, x1, y1 = line.box
    return PipeRow(
        owner_code=owner,
        kind=kind,
        diameter_mm=diameter_mm,
        accuracy_m=body.accuracy_m,
        depth_start_m=body.depth_start_m,
        depth_end_m=body.depth_end_m,
        geometry=line.wgs84,
        synthetic=False,
        minx=x0,
        miny=y0,
        maxx=x1,
        maxy=y1,
    )


def _overview(s: Session, ids: list[int]) -> dict[str, Any]:
    """Every pipe of `ids` as its plan line (as stored, WGS84, 5 decimals: about 1 m) with the
    facts the map draws by; none past MAX_OVERVIEW, saying so."""
    out: dict[str, Any] = {
        "type": "FeatureCollection",
        "detail": "overview",
        "numberMatched": len(ids),
        "zoom_in": len(ids) > MAX_OVERVIEW,
    }
    features: list[dict[str, Any]] = []
    if not out["zoom_in"]:
        cols = (PipeRow.id, PipeRow.owner_code, PipeRow.kind, PipeRow.diameter_mm)
        for i in range(0, len(ids), 5000):
            q = select(*cols, PipeRow.synthetic, PipeRow.geometry).where(
                PipeRow.id.in_(ids[i : i + 5000])
            )
            for pid, owner, kind, dn, synthetic, geom in s.execute(q):
                coords = [[round(c[0], 5), round(c[1], 5)] for c in geom["coordinates"]]
                features.append(
                    {
                        "type": "Feature",
                        "id": pid,
                        "geometry": {"type": "LineString", "coordinates": coords},
                        "properties": {
                            "owner": owner,
                            "kind": kind,
                            "diameter_mm": dn,
                            "synthetic": synthetic,
                        },
                    }
                )
    features.sort(key=lambda f: f["id"])
    out["features"] = features
    out["numberReturned"] = len(features)
    return out
