"""The pure-PyTorch hash grid against a scalar re-statement of tiny-cuda-nn's rules."""

import math
import zlib

import pytest
import torch

from sasnet_codec.config import ModelConfig
from sasnet_codec.coords import domain_extent, pixel_centres
from sasnet_codec.layout import elements_read, grid_levels, grid_parameter_count
from sasnet_codec.nn.hash_grid import HashGrid
from sasnet_codec.nn.tcnn_grid import tcnn_available

# base 2, growth 2: scales 1, 3, 7 -> R = 2, 4, 8. With 2^4 entries: levels 0 and 1 dense
# (R^2 = 4, 16), level 2 hashed (64 > 16).
CONFIG = ModelConfig(grid_levels=3, grid_features=2, grid_log2_size=4, grid_base_resolution=2,
                     grid_scale_x64=128)


def test_level_geometry():
    levels = grid_levels(CONFIG)
    assert [lv.scale for lv in levels] == [1.0, 3.0, 7.0]
    assert [lv.resolution for lv in levels] == [2, 4, 8]
    assert [lv.dense for lv in levels] == [True, True, False]
    assert [lv.size for lv in levels] == [8, 16, 16]      # next multiple of 8, capped at 2^4
    assert [lv.offset for lv in levels] == [0, 8, 24]
    assert grid_parameter_count(CONFIG) == 40 * 2


def reference_corners(level, x, y):
    """(index, weight) of the 4 corners, written out per tcnn's rules with Python ints."""
    px, py = level.scale * x + 0.5, level.scale * y + 0.5
    gx, gy = math.floor(px), math.floor(py)
    fx, fy = px - gx, py - gy
    out = []
    for dy in (0, 1):
        for dx in (0, 1):
            cx, cy = gx + dx, gy + dy
            if level.dense:
                index = (cx + cy * level.resolution) % 2**32
            else:
                index = (cx ^ (cy * 2654435761 % 2**32)) % 2**32
            weight = (fx if dx else 1 - fx) * (fy if dy else 1 - fy)
            out.append((level.offset + index % level.size, weight))
    return out


@pytest.mark.parametrize("width,height", [(24, 16), (16, 24), (37, 11), (20, 20)])
def test_no_render_reads_a_grid_entry_that_format_4_leaves_out(width, height):
    """Format 4 codes only the grid entries layout.elements_read names and decodes the rest
    as zero: a render of the image's domain at any size must read none of the others (with a
    nonzero weight), and a fine render reads nearly all of the named ones."""
    config = ModelConfig(grid_levels=5, grid_features=2, grid_log2_size=7,
                         grid_base_resolution=3, grid_scale_x64=112)   # dense, then hashed
    assert [level.dense for level in grid_levels(config)] == [True] * 3 + [False] * 2
    grid = HashGrid(config, torch.Generator().manual_seed(0))
    entries = grid_parameter_count(config) // 2
    coded = elements_read(config, width, height).get("grid.table")
    if coded is None:
        coded = torch.arange(2 * entries).numpy()
    assert (coded[0::2] % 2 == 0).all() and (coded[1::2] == coded[0::2] + 1).all()
    named = set((coded[0::2] // 2).tolist())
    if width != height:
        assert len(named) < entries
    extent = domain_extent(width, height)
    for render_width, render_height in ((width, height), (3 * width, 3 * height), (7, 30),
                                        (1, 1), (16 * width + 1, 16 * height + 3)):
        unit = (torch.from_numpy(pixel_centres(render_width, render_height, extent)) + 1) / 2
        lookup = grid.lookup(unit)
        read = set(lookup.index[lookup.weight > 0].tolist())
        assert read <= named
    assert len(read) >= 0.97 * len(named)


def test_a_render_grazing_a_thin_images_border_reads_only_named_entries():
    """A 1 x 4270 image rendered 65536 pixels wide: its outermost columns come within float32's
    error of the domain's border on a level of scale ~2000, which the rule's tolerance
    covers (without it one entry read there was left out)."""
    config = ModelConfig(grid_levels=5, grid_features=1, grid_log2_size=13,
                         grid_base_resolution=472, grid_scale_x64=131)
    width, height = 1, 4270
    grid = HashGrid(config, torch.Generator().manual_seed(0))
    extent = domain_extent(width, height)
    columns = [pixel_centres(65536, 1, extent, i, i + 1)[0, 0] for i in (0, 65535)]
    rows = [pixel_centres(1, 1024, extent, j, j + 1)[0, 1] for j in (0, 1023)]
    unit = (torch.tensor([[x, y] for x in columns for y in rows]) + 1) / 2
    lookup = grid.lookup(unit)
    named = set(elements_read(config, width, height)["grid.table"].tolist())
    assert set(lookup.index[lookup.weight > 0].tolist()) <= named


@pytest.mark.parametrize("config,width,height,count,crc", [
    (ModelConfig(grid_features=1), 192, 128, 739, 2993914889),
    (ModelConfig(grid_log2_size=6), 128, 192, 588, 3808518119),
    (ModelConfig(grid_levels=10, grid_log2_size=13), 768, 512, 41710, 4483479),
])
def test_the_entries_format_4_codes_are_pinned(config, width, height, count, crc):
    """Golden sets: the rule is part of the format, so any change to it must bump the format
    version and update these."""
    elements = elements_read(config, width, height)["grid.table"]
    assert len(elements) == count and zlib.crc32(elements.astype("<i8").tobytes()) == crc


def test_indices_and_outputs_match_the_hand_computed_case():
    grid = HashGrid(CONFIG, torch.Generator().manual_seed(0))
    with torch.no_grad():
        grid.params.copy_(torch.arange(grid.params.numel(), dtype=torch.float32) / 7)
    points = torch.tensor([[0.3, 0.6], [0.0, 0.0], [1.0, 1.0], [0.99, 0.01], [0.5, 0.25]])
    found = grid.lookup(points)
    index, weight = found.index, found.weight
    features = grid(points)
    table = grid.params.detach().view(-1, 2)
    levels = grid_levels(CONFIG)
    for n, (x, y) in enumerate(points.tolist()):
        for l, level in enumerate(levels):
            expected = reference_corners(level, x, y)
            got = sorted(zip(index[n, l].tolist(), weight[n, l].tolist()))
            assert [i for i, _ in got] == sorted(i for i, _ in expected)
            assert sum(w for _, w in got) == pytest.approx(1.0, abs=1e-6)
            value = sum(w * table[i] for i, w in expected)
            assert torch.allclose(features[n, 2 * l : 2 * l + 2], value, atol=1e-5)


def test_first_point_by_hand():
    # Level 0 at (0.3, 0.6): p = (0.8, 1.1), cell (0, 1), corners 2, 3, 4, 5 (dense, R = 2),
    # weights 0.2*0.9, 0.8*0.9, 0.2*0.1, 0.8*0.1.
    grid = HashGrid(CONFIG, torch.Generator().manual_seed(0))
    found = grid.lookup(torch.tensor([[0.3, 0.6]]))
    index, weight = found.index, found.weight
    assert index[0, 0].tolist() == [2, 3, 4, 5]
    assert weight[0, 0].tolist() == pytest.approx([0.18, 0.72, 0.02, 0.08], abs=1e-6)


def test_corner_at_the_far_edge_wraps_like_tcnn():
    # x = 1 on level 0: p = 1.5, the upper corner is vertex 2 = R, which wraps mod size.
    grid = HashGrid(CONFIG, torch.Generator().manual_seed(0))
    index = grid.lookup(torch.tensor([[1.0, 0.0]])).index
    assert index[0, 0].tolist() == [1, 2, 3, 4]


def test_table_gradient_equals_the_gather_gradient_with_hash_collisions():
    # A 2^4-entry table forces hashed levels, where corners of one point can share an entry.
    config = CONFIG.replace(grid_log2_size=4, grid_levels=5)
    grid = HashGrid(config, torch.Generator().manual_seed(0))
    points = torch.rand(500, 2, generator=torch.Generator().manual_seed(1))
    found = grid.lookup(points)
    upstream = torch.randn(500, grid.output_width, generator=torch.Generator().manual_seed(2))
    for _ in range(2):  # the second pass reuses the cached sparse transpose
        grid.params.grad = None
        (grid(points, found) * upstream).sum().backward()
    table = grid.params.detach().clone().view(-1, 2).requires_grad_()
    gathered = (table[found.index] * found.weight[..., None]).sum(dim=2).reshape(500, -1)
    (gathered * upstream).sum().backward()
    assert torch.allclose(grid.params.grad.view(-1, 2), table.grad, atol=1e-4)
    assert torch.allclose(grid(points), gathered, atol=1e-6)
    # Both ways of taking it (CPU: sparse product, CUDA: sorted segment sums), on any device.
    by_level, entries = upstream.view(500, -1, 2), table.shape[0]
    for method in (found.sparse_product, found.segment_sums):
        assert torch.allclose(method(by_level, entries), table.grad, atol=1e-4)


@pytest.mark.skipif(not tcnn_available(torch.device("cuda")) if torch.cuda.is_available()
                    else True, reason="tinycudann on CUDA is not installed here")
def test_tcnn_backend_matches_pytorch_grid():  # pragma: no cover - needs CUDA + tinycudann
    from sasnet_codec.nn.tcnn_grid import TcnnHashGrid

    config = ModelConfig(grid_levels=8, grid_log2_size=10, grid_base_resolution=4,
                         grid_scale_x64=90)
    generator = torch.Generator().manual_seed(0)
    ours = HashGrid(config, generator).cuda()
    theirs = TcnnHashGrid(config, torch.Generator().manual_seed(0)).cuda()
    with torch.no_grad():
        theirs.params.copy_(ours.params)
    points = torch.rand(4096, 2, device="cuda")
    assert torch.allclose(ours(points), theirs(points), atol=1e-5)
