import math

import torch

from occsim.planners.vad.attention import deformable_attention


def naive_deformable_attention(value, shapes, locations, weights):
    """Bilinear sampling point by point (pixel centres at +0.5, zero outside), weighted and summed."""
    batch, _, heads, channels = value.shape
    _, queries, _, levels, points, _ = locations.shape
    out = torch.zeros(batch, queries, heads, channels, dtype=torch.float64)
    starts = [0]
    for h, w in shapes:
        starts.append(starts[-1] + h * w)
    for b in range(batch):
        for q in range(queries):
            for head in range(heads):
                for level, (h, w) in enumerate(shapes):
                    grid = value[b, starts[level] : starts[level + 1], head].double().view(h, w, channels)
                    for p in range(points):
                        x = locations[b, q, head, level, p, 0].item() * w - 0.5
                        y = locations[b, q, head, level, p, 1].item() * h - 0.5
                        x0, y0 = math.floor(x), math.floor(y)
                        sample = torch.zeros(channels, dtype=torch.float64)
                        for xi, yi in ((x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)):
                            if 0 <= xi < w and 0 <= yi < h:
                                sample += (1 - abs(x - xi)) * (1 - abs(y - yi)) * grid[yi, xi]
                        out[b, q, head] += weights[b, q, head, level, p].item() * sample
    return out.view(batch, queries, heads * channels)


def test_deformable_attention_matches_a_naive_bilinear_loop():
    torch.manual_seed(0)
    shapes = [(5, 7), (3, 4), (1, 2)]
    value = torch.randn(2, sum(h * w for h, w in shapes), 2, 3)
    # some locations fall outside [0, 1]: zero padding must count them as zeros
    locations = torch.rand(2, 4, 2, 3, 3, 2) * 1.4 - 0.2
    weights = torch.rand(2, 4, 2, 3, 3)
    fast = deformable_attention(value, shapes, locations, weights)
    slow = naive_deformable_attention(value, shapes, locations, weights)
    assert fast.shape == (2, 4, 6)
    assert torch.allclose(fast.double(), slow, atol=1e-5)
    # and a location far outside samples nothing
    far = torch.full_like(locations, 5.0)
    assert torch.count_nonzero(deformable_attention(value, shapes, far, weights)) == 0
