"""The vision planner's BEV memory: the warp by the ego's motion, the fusion, and the reset between episodes."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from occsim.planners import PLANNERS, make_planner
from occsim.planners.vision import (
    VisionConfig,
    VisionNetPlanner,
    VisionPlanner,
    VisionPlannerNet,
    bev_cell_centres,
    ego_motion,
    largest_near,
    save_vision,
    warp_bev,
)
from occsim.types import CameraRig, PlannerInput

SMALL = VisionConfig(input_hw=(32, 56), image_channels=8, bev_channels=8, query_channels=16, attention_layers=1)
TEMPORAL = replace(SMALL, temporal=True)
RANGE, CELLS = SMALL.bev_range, SMALL.bev_cells  # 40 m, 40 cells of 2 m


def _cell(x: float, y: float) -> tuple[int, int]:
    centres = bev_cell_centres(SMALL)
    return int(np.argmin(np.abs(centres - x))), int(np.argmin(np.abs(centres - y)))


def _one_feature(x: float, y: float) -> torch.Tensor:
    bev = torch.zeros(1, 2, CELLS, CELLS)
    bev[0, :, _cell(x, y)[0], _cell(x, y)[1]] = torch.tensor([1.0, 5.0])
    return bev


@pytest.mark.parametrize(
    ("previous", "current", "seen_at"),
    [
        ((0.0, 0.0, 0.0), (4.0, 0.0, 0.0), (7.0, 1.0)),  # 4 m forward: a thing 11 m ahead is 7 m ahead
        ((0.0, 0.0, 0.0), (0.0, -6.0, 0.0), (11.0, 7.0)),  # 6 m to the right: it is 6 m further left
        ((0.0, 0.0, 0.0), (0.0, 0.0, np.pi / 2), (1.0, -11.0)),  # a quarter turn left: ahead is now to the right
        ((10.0, 5.0, np.pi / 2), (10.0, 9.0, np.pi / 2), (7.0, 1.0)),  # 4 m "north" while heading north: forward
    ],
)
def test_the_warp_moves_a_known_feature_to_the_cell_the_ego_motion_puts_it_in(previous, current, seen_at):
    motion = torch.from_numpy(ego_motion(np.array(previous), np.array(current))).float()[None]
    warped, valid = warp_bev(_one_feature(11.0, 1.0), motion, RANGE)
    i, j = _cell(*seen_at)
    assert torch.allclose(warped[0, :, i, j], torch.tensor([1.0, 5.0]), atol=1e-4)
    assert warped[0, 0].sum().item() == pytest.approx(1.0, abs=1e-4)  # moved whole, not smeared or doubled
    assert valid[0, 0, i, j] == 1.0


def test_cells_the_previous_grid_never_covered_are_invalid_and_empty():
    motion = torch.tensor([[20.0, 0.0, 0.0]])  # 20 m forward: the front 10 cells were beyond the previous grid
    warped, valid = warp_bev(torch.ones(1, 1, CELLS, CELLS), motion, RANGE)
    assert valid[0, 0, -10:].sum() == 0 and warped[0, 0, -10:].abs().sum() == 0
    assert valid[0, 0, :30].min() == 1.0


def _inputs(pose=(0.0, 0.0, 0.0), seed=0):
    rig = CameraRig.nuscenes(SMALL.input_hw)
    images = np.random.default_rng(seed).integers(0, 255, (6, *SMALL.input_hw, 3), dtype=np.uint8)
    return PlannerInput(
        images=images,
        intrinsics=rig.intrinsics,
        cam2ego=rig.cam2ego,
        ego=np.array([8.0, 0, 0, 0], np.float32),
        ego_pose=np.array(pose),
        command=2,
        timestamp=0.0,
    )


def test_a_temporal_network_carries_its_memory_and_forgets_it_on_reset(tmp_path):
    torch.manual_seed(0)
    net = VisionPlannerNet(TEMPORAL).eval()
    torch.nn.init.normal_(net.temporal_value.weight, std=1.0)  # a memory that moves the plan measurably
    save_vision(net, tmp_path, guard=None)
    planner = make_planner(f"vision-net:{tmp_path}")
    assert isinstance(planner, VisionNetPlanner)
    planner.reset({})
    first = planner.plan(_inputs()).points
    assert planner._memory is not None and planner._memory.shape == (1, SMALL.bev_channels, CELLS, CELLS)
    second = planner.plan(_inputs(pose=(2.0, 0.0, 0.0), seed=1)).points
    planner.reset({})
    assert planner._memory is None and planner._pose is None
    again = planner.plan(_inputs()).points
    np.testing.assert_array_equal(first, again)  # after the reset, the first step is as if the episode were new
    # the memory matters: the same second frame without the first gives another plan
    planner.reset({})
    alone = planner.plan(_inputs(pose=(2.0, 0.0, 0.0), seed=1)).points
    assert np.abs(alone - second).max() > 1e-4


def test_an_older_network_has_no_memory_and_plans_as_before(tmp_path):
    torch.manual_seed(0)
    net = VisionPlannerNet(SMALL).eval()
    assert "bev_features" not in net(*_tensors())
    save_vision(net, tmp_path, guard=None)
    planner = make_planner(f"vision-net:{tmp_path}")
    planner.reset({})
    planner.plan(_inputs())
    assert planner._memory is None


def _tensors():
    rig = CameraRig.nuscenes(SMALL.input_hw)
    return (
        torch.rand(1, 6, 3, *SMALL.input_hw),
        torch.tensor(rig.intrinsics, dtype=torch.float32)[None],
        torch.tensor(rig.cam2ego, dtype=torch.float32)[None],
        torch.tensor([[8.0, 0.0, 0.0, 0.0]]),
        torch.tensor([2]),
    )


def test_vision_net_and_vision_are_separate_planners_the_guard_only_in_vision(tmp_path):
    assert {"vision", "vision-net"} <= set(PLANNERS)
    save_vision(VisionPlannerNet(SMALL).eval(), tmp_path)  # with the default guard
    net_only, guarded = make_planner(f"vision-net:{tmp_path}"), make_planner(f"vision:{tmp_path}")
    assert type(guarded) is VisionPlanner and guarded.guard is not None
    assert not hasattr(net_only, "guard")
    assert VisionNetPlanner.check_argument(str(tmp_path / "missing"))  # a missing folder is named up front


def test_the_shipped_memory_weights_load_as_vision_memory_with_a_bev_memory_under_20_mb():
    from occsim.planners.vision import MEMORY_WEIGHTS_DIR, WEIGHTS_NAME
    from occsim.suite.provenance import planner_weights_path

    planner = make_planner("vision-memory")
    assert planner.net.config.temporal and isinstance(planner, VisionPlanner)
    assert planner_weights_path("vision-memory") == MEMORY_WEIGHTS_DIR  # suite.json hashes the right folder
    assert (MEMORY_WEIGHTS_DIR / WEIGHTS_NAME).stat().st_size < 20e6


def test_largest_near_reads_only_the_cells_within_the_radius():
    centres = bev_cell_centres(SMALL)
    grid = np.zeros((CELLS, CELLS))
    grid[_cell(11.0, -5.0)] = 0.9  # cell centres at odd metres: 2 m cells over +-40 m
    grid[_cell(21.0, 7.0)] = 0.4
    assert largest_near(grid, centres, np.array([12.0, -5.0]), 1.5) == 0.9
    assert largest_near(grid, centres, np.array([12.0, -5.0]), 0.5) == 0.0  # the cell's centre is 1 m away
    assert largest_near(grid, centres, np.array([20.0, 7.0]), 1.5) == 0.4  # the 0.9 cell is 15 m away
    assert largest_near(grid, centres, np.array([60.0, 0.0]), 3.0) == 0.0  # off the grid
