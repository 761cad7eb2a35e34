import numpy as np
import torch

from occsim.classes import CAR, DRIVEABLE_SURFACE, FREE, TRAFFIC_CONE
from occsim.generative.models.perception import (
    OccupancyPerception,
    class_weights,
    coarsen_occupancy,
    geometric_scal_loss,
    perception_loss,
)
from occsim.types import CameraRig


def test_coarsening_keeps_thin_things_and_takes_the_most_frequent_occupied_class():
    fine = np.full((4, 4, 2), FREE, np.uint8)
    assert coarsen_occupancy(fine).tolist() == [[[FREE]]]
    fine[0, 0, 0] = TRAFFIC_CONE  # one voxel of 32
    assert coarsen_occupancy(fine).tolist() == [[[TRAFFIC_CONE]]]
    fine[:, :, 0] = DRIVEABLE_SURFACE
    fine[1, 1, 1] = CAR
    assert coarsen_occupancy(fine).tolist() == [[[DRIVEABLE_SURFACE]]]


def _front_only_features(model):
    rig = CameraRig.nuscenes((64, 112))
    features = torch.zeros(1, 6, model.config.channels, 16, 28)
    features[0, rig.names.index("CAM_FRONT")] = 1.0
    k = torch.as_tensor(rig.resized((16, 28)).intrinsics, dtype=torch.float32)[None]
    t = torch.as_tensor(rig.cam2ego, dtype=torch.float32)[None]
    return model.lift(features, k, t)[0, 0]  # (X, Y, Z) channel 0


def test_lifting_puts_a_cameras_features_in_the_cells_it_sees():
    cells = _front_only_features(OccupancyPerception())
    assert cells.shape == (50, 50, 8)
    ahead = cells[35, 25, 1]  # x = 16.8 m, y = 0.8 m, z = 0.6 m: in front of the ego
    behind = cells[10, 25, 1]  # x = -23.2 m
    beside = cells[25, 45, 1]  # y = +32.8 m, x = 0.8 m: only the side cameras see it
    assert ahead == 1.0 and behind == 0.0 and beside == 0.0


def test_forward_shapes_and_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    model = OccupancyPerception(channels=8, hidden=16)
    rig = CameraRig.nuscenes((32, 56))
    images = torch.rand(2, 6, 3, 32, 56) * 2 - 1
    k = torch.as_tensor(rig.intrinsics, dtype=torch.float32).expand(2, -1, -1, -1)
    t = torch.as_tensor(rig.cam2ego, dtype=torch.float32).expand(2, -1, -1, -1)
    labels = torch.full((2, 50, 50, 8), FREE)
    labels[:, :, :, 0] = DRIVEABLE_SURFACE
    labels[:, 30:33, 24:26, :3] = CAR
    weights = class_weights(labels.numpy())
    assert model(images, k, t).shape == (2, 18, 50, 50, 8)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = perception_loss(model(images, k, t), labels, weights).item()
    for _ in range(10):
        loss = perception_loss(model(images, k, t), labels, weights)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < first


def test_the_geometric_affinity_loss_is_low_for_a_perfect_prediction():
    labels = torch.full((1, 4, 4, 2), FREE)
    labels[0, :2] = CAR
    perfect = torch.nn.functional.one_hot(labels, 18).permute(0, 4, 1, 2, 3).float().clamp(1e-4, 1 - 1e-4)
    wrong = perfect.flip(2)  # occupied where free and free where occupied
    assert geometric_scal_loss(perfect, labels) < 0.01 < geometric_scal_loss(wrong, labels)
