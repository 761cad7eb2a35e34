"""Small OpenDRIVE and OpenSCENARIO files written for the tests (no third-party scenario files)."""

from __future__ import annotations

import math
from pathlib import Path

LANE_WIDTH = 3.5


def lanes(right: int = 1, left: int = 1, width: float = LANE_WIDTH, types: dict[int, str] | None = None) -> str:
    """A laneSection's lanes: ``right`` lanes right of the reference line and ``left`` left of it."""
    types = types or {}

    def lane(i: int) -> str:
        return (
            f'<lane id="{i}" type="{types.get(i, "driving")}"><width sOffset="0" a="{width}" b="0" c="0" d="0"/>'
            f'<roadMark sOffset="0" type="solid" color="standard" width="0.12"/></lane>'
        )

    left_xml = "".join(lane(i) for i in range(left, 0, -1))
    right_xml = "".join(lane(-i) for i in range(1, right + 1))
    return (
        f"<left>{left_xml}</left>" * bool(left)
        + '<center><lane id="0" type="none"><roadMark sOffset="0" type="broken" width="0.12"/></lane></center>'
        + f"<right>{right_xml}</right>" * bool(right)
    )


def road(
    road_id: str, geometry: str, length: float, lane_xml: str, junction: str = "-1", links: str = "", extra: str = ""
) -> str:
    """One <road> with one plan-view geometry record and one lane section."""
    return (
        f'<road id="{road_id}" junction="{junction}" length="{length}"><link>{links}</link>'
        f'<planView>{geometry}</planView>{extra}<lanes><laneSection s="0">{lane_xml}</laneSection></lanes></road>'
    )


def line(x: float, y: float, hdg: float, length: float) -> str:
    """A plan-view line record."""
    return f'<geometry s="0" x="{x}" y="{y}" hdg="{hdg}" length="{length}"><line/></geometry>'


def opendrive(*roads: str, junctions: str = "") -> str:
    """A whole OpenDRIVE 1.6 document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><OpenDRIVE><header revMajor="1" revMinor="6" name="test"/>'
        + "".join(roads)
        + junctions
        + "</OpenDRIVE>"
    )


def straight_xodr(length: float = 500.0, right: int = 2, left: int = 2, width: float = LANE_WIDTH) -> str:
    """A straight road '0' along +x from the origin."""
    return opendrive(road("0", line(0, 0, 0, length), length, lanes(right, left, width)))


def junction_xodr(arm: float = 150.0, radius: float = 15.0, border: float = 0.0) -> str:
    """A 4-way junction at the origin: arms 0-3 leave it heading 0, 90, 180, 270 degrees from ``radius`` out.

    Each arm's lane -1 drives away from the junction, lane 1 towards it; connecting roads 1xy lead from arm x's lane 1
    into arm y's lane -1: straight across, or a quarter circle of ``radius`` for a left or right turn.
    """
    roads, connections = [], []
    for a in range(4):
        theta = a * math.pi / 2
        x, y = radius * math.cos(theta), radius * math.sin(theta)
        links = '<predecessor elementType="junction" elementId="100"/>'
        lane_xml = lanes(1, 1)
        if border:  # a verge beyond each driving lane, as test tracks have
            verge = f'<width sOffset="0" a="{border}" b="0" c="0" d="0"/>'
            lane_xml = lane_xml.replace("<left>", f'<left><lane id="2" type="border">{verge}</lane>')
            lane_xml = lane_xml.replace("</right>", f'<lane id="-2" type="border">{verge}</lane></right>')
        roads.append(road(str(a), line(x, y, theta, arm), arm, lane_xml, links=links))
    for a in range(4):
        theta = a * math.pi / 2
        x, y = radius * math.cos(theta), radius * math.sin(theta)
        inward = theta + math.pi
        for turn, b, curvature, length in (
            ("straight", (a + 2) % 4, 0.0, 2 * radius),
            ("left", (a + 3) % 4, 1.0 / radius, math.pi * radius / 2),
            ("right", (a + 1) % 4, -1.0 / radius, math.pi * radius / 2),
        ):
            shape = "<line/>" if turn == "straight" else f'<arc curvature="{curvature}"/>'
            geometry = f'<geometry s="0" x="{x}" y="{y}" hdg="{inward}" length="{length}">{shape}</geometry>'
            links = (
                f'<predecessor elementType="road" elementId="{a}" contactPoint="start"/>'
                f'<successor elementType="road" elementId="{b}" contactPoint="start"/>'
            )
            lane_xml = (
                '<center><lane id="0" type="none"/></center><right><lane id="-1" type="driving">'
                f'<link><predecessor id="1"/><successor id="-1"/></link>'
                f'<width sOffset="0" a="{LANE_WIDTH}" b="0" c="0" d="0"/></lane></right>'
            )
            cid = f"1{a}{b}"
            roads.append(road(cid, geometry, length, lane_xml, junction="100", links=links))
            connections.append(
                f'<connection id="{cid}" incomingRoad="{a}" connectingRoad="{cid}" contactPoint="start">'
                '<laneLink from="1" to="-1"/></connection>'
            )
    return opendrive(*roads, junctions=f'<junction id="100" name="x">{"".join(connections)}</junction>')


def vehicle(name: str, category: str = "car", length: float = 4.5, width: float = 1.8, centre_x: float = 1.4) -> str:
    """An inline <Vehicle> (reference point at the rear axle, box centre ``centre_x`` ahead of it)."""
    return (
        f'<Vehicle name="{name}" vehicleCategory="{category}"><BoundingBox><Center x="{centre_x}" y="0" z="0.8"/>'
        f'<Dimensions width="{width}" length="{length}" height="1.5"/></BoundingBox>'
        '<Performance maxSpeed="70" maxAcceleration="10" maxDeceleration="10"/>'
        '<Axles><FrontAxle maxSteering="0.5" wheelDiameter="0.6" trackWidth="1.6" positionX="2.8" positionZ="0.3"/>'
        '<RearAxle maxSteering="0" wheelDiameter="0.6" trackWidth="1.6" positionX="0" positionZ="0.3"/></Axles>'
        "<Properties/></Vehicle>"
    )


def pedestrian(name: str) -> str:
    """An inline adult <Pedestrian>."""
    return (
        f'<Pedestrian name="{name}" pedestrianCategory="pedestrian" mass="80"><BoundingBox><Center x="0" y="0" z="0.9"/>'
        '<Dimensions width="0.5" length="0.6" height="1.8"/></BoundingBox><Properties/></Pedestrian>'
    )


def lane_position(road_id: str, lane: int, s: float, offset: float = 0.0) -> str:
    """A <Position> on a lane."""
    return f'<Position><LanePosition roadId="{road_id}" laneId="{lane}" s="{s}" offset="{offset}"/></Position>'


def teleport(position: str) -> str:
    """A TeleportAction PrivateAction."""
    return f"<PrivateAction><TeleportAction>{position}</TeleportAction></PrivateAction>"


def speed(value: float | str, shape: str = "step", dimension: str = "time", over: float = 0.0) -> str:
    """A SpeedAction PrivateAction."""
    return (
        "<PrivateAction><LongitudinalAction><SpeedAction>"
        f'<SpeedActionDynamics dynamicsShape="{shape}" dynamicsDimension="{dimension}" value="{over}"/>'
        f'<SpeedActionTarget><AbsoluteTargetSpeed value="{value}"/></SpeedActionTarget>'
        "</SpeedAction></LongitudinalAction></PrivateAction>"
    )


def sim_time(value: float, rule: str = "greaterThan", name: str = "t", delay: float = 0.0, edge: str = "none") -> str:
    """A SimulationTimeCondition <Condition>."""
    return (
        f'<Condition name="{name}" delay="{delay}" conditionEdge="{edge}"><ByValueCondition>'
        f'<SimulationTimeCondition value="{value}" rule="{rule}"/></ByValueCondition></Condition>'
    )


def entity_condition(entity: str, body: str, name: str = "c", delay: float = 0.0, edge: str = "none") -> str:
    """A ByEntityCondition <Condition> on ``entity``."""
    return (
        f'<Condition name="{name}" delay="{delay}" conditionEdge="{edge}"><ByEntityCondition>'
        f'<TriggeringEntities triggeringEntitiesRule="any"><EntityRef entityRef="{entity}"/></TriggeringEntities>'
        f"<EntityCondition>{body}</EntityCondition></ByEntityCondition></Condition>"
    )


def trigger(*conditions: str, kind: str = "StartTrigger") -> str:
    """A trigger of one condition group (all ``conditions``)."""
    return f"<{kind}><ConditionGroup>{''.join(conditions)}</ConditionGroup></{kind}>"


def event(name: str, action: str, start: str, priority: str = "override", count: int = 1) -> str:
    """An <Event> with one <Action> (a PrivateAction or GlobalAction) and its start trigger."""
    return (
        f'<Event name="{name}" priority="{priority}" maximumExecutionCount="{count}">'
        f'<Action name="{name}_action">{action}</Action>{start}</Event>'
    )


def story(actor: str, *events: str, act_start: str = "", name: str = "story") -> str:
    """A <Story> with one act, one maneuver group for ``actor`` and one maneuver of ``events``."""
    return (
        f'<Story name="{name}"><Act name="{name}_act"><ManeuverGroup name="{name}_group" maximumExecutionCount="1">'
        f'<Actors selectTriggeringEntities="false"><EntityRef entityRef="{actor}"/></Actors>'
        f'<Maneuver name="{name}_maneuver">{"".join(events)}</Maneuver></ManeuverGroup>{act_start}</Act></Story>'
    )


def xosc(
    entities: dict[str, str],
    init: dict[str, list[str]],
    stories: str = "",
    stop: str = "",
    road_file: str = "road.xodr",
    parameters: str = "",
    variables: str = "",
    catalogs: str = "",
    minor: int = 2,
) -> str:
    """A whole OpenSCENARIO document: ``entities`` name -> body, ``init`` name -> private actions."""
    objects = "".join(f'<ScenarioObject name="{n}">{body}</ScenarioObject>' for n, body in entities.items())
    privates = "".join(f'<Private entityRef="{n}">{"".join(actions)}</Private>' for n, actions in init.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?><OpenSCENARIO>'
        f'<FileHeader revMajor="1" revMinor="{minor}" date="2026-01-01T00:00:00" description="test" author="occsim"/>'
        f"<ParameterDeclarations>{parameters}</ParameterDeclarations>"
        + (f"<VariableDeclarations>{variables}</VariableDeclarations>" if variables else "")
        + f"<CatalogLocations>{catalogs}</CatalogLocations>"
        f'<RoadNetwork><LogicFile filepath="{road_file}"/></RoadNetwork>'
        f"<Entities>{objects}</Entities>"
        f"<Storyboard><Init><Actions>{privates}</Actions></Init>{stories}"
        f"{stop or trigger(sim_time(30.0), kind='StopTrigger')}</Storyboard></OpenSCENARIO>"
    )


def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``folder/name`` and return the path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
