"""``occsim snapshot``: one still of a scenario, the six camera views beside the bird's-eye view, as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from occsim.cli.common import (
    DEFAULT_HW_TEXT,
    RENDERER_OPTION_HELP,
    WEATHER_HELP,
    app,
    check_choices,
    fail,
    key_value_options,
    load_scenario_or_exit,
    out,
    parse_hw,
)


@app.command()
def snapshot(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or YAML path.")],
    out_file: Annotated[Path, typer.Option("--out", help="The PNG file to write.")] = Path("snapshot.png"),
    planner: Annotated[str, typer.Option(help="Registered planner that drives up to the still.")] = "expert",
    steps: Annotated[int, typer.Option(min=0, help="Env steps to drive before the still (0: the first frame).")] = 4,
    weather: Annotated[str | None, typer.Option(help=WEATHER_HELP)] = None,
    renderer: Annotated[str, typer.Option(help="Registered renderer.")] = "raster",
    renderer_option: Annotated[list[str] | None, typer.Option(help=RENDERER_OPTION_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Reset seed (jitter, weather effects).")] = 0,
    camera_hw: Annotated[str, typer.Option("--camera-hw", help="Camera image HEIGHTxWIDTH.")] = DEFAULT_HW_TEXT,
) -> None:
    """Write one still of a scenario: the six camera views beside a bird's-eye view with the planned trajectory."""
    import cv2
    import gymnasium as gym

    from occsim.planners import make_planner
    from occsim.rollout import rollout

    hw = parse_hw(camera_hw)
    sc = load_scenario_or_exit(scenario)
    options = key_value_options(renderer_option)
    check_choices([planner], weather, renderer, options)
    agent = make_planner(planner)
    env = gym.make(
        "OccSim-v0",
        scenario=sc,
        weather=weather,
        camera_hw=hw,
        renderer=renderer,
        renderer_kwargs=options,
        privileged=agent.privileged,
        render_mode="rgb_array",
    )
    try:
        end = rollout(env, agent, seed, max_steps=steps)
        image = env.render()
    finally:
        env.close()
    if image is None:
        raise fail(f"{scenario}: the env rendered no frame")
    out_file.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out_file), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise fail(f"could not write {out_file}")
    out.print(f"wrote {out_file} ({image.shape[1]} x {image.shape[0]} px, after {end.steps} steps)", highlight=False)
