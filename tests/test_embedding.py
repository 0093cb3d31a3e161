import hashlib

from sasnet_codec.config import ModelConfig
from sasnet_codec.frequencies import integer_frequencies
from sasnet_codec.integer_rng import SplitMix64


def test_splitmix64_matches_the_published_sequence():
    # Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
    rng = SplitMix64(0)
    assert [rng.next_u64() for _ in range(3)] == [
        0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_frequency_table_is_identical_across_runs_and_machines():
    config = ModelConfig(embedding_width=64, band_limit=32, low_freq_range=6, n_bands=4,
                         low_freq_percent=50, seed=7)
    table = integer_frequencies(config)
    digest = hashlib.sha256(repr((table.k, table.band)).encode()).hexdigest()
    # Stored checksum: a change here breaks every existing .sas file.
    assert digest == EMBEDDING_CHECKSUM


def test_frequency_table_layout():
    config = ModelConfig(embedding_width=64, band_limit=32, low_freq_range=6, n_bands=4)
    table = integer_frequencies(config)
    assert len(table.k) == 64 and len(set(table.k)) == 64
    assert table.k[:2] == [(1, 0), (0, 1)]
    for (kx, ky), band in zip(table.k, table.band):
        assert kx > 0 or (kx == 0 and ky > 0), "half plane only"
        radius = max(abs(kx), abs(ky))
        if band == 0:
            assert radius <= config.low_freq_range
        else:
            assert config.low_freq_range < radius <= config.band_limit
    assert table.band == sorted(table.band), "bands are contiguous"
    assert set(table.band) == {0, 1, 2, 3, 4}
    low_count = table.band.count(0)
    assert low_count == round(64 * config.low_freq_percent / 100)


def test_seed_changes_the_draw():
    a = integer_frequencies(ModelConfig(seed=1))
    b = integer_frequencies(ModelConfig(seed=2))
    assert a.k != b.k and a.band.count(0) == b.band.count(0)


EMBEDDING_CHECKSUM = "514bdf4c07cba8c2e54c85c5dacccb16f09cd62364e892e674c66769dde25a99"
