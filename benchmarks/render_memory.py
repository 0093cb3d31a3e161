"""Peak memory and time of a large render: the decoder's network (numpy, on the CPU) for a
default-size file (quality 5 for a 768x512 image) rendered at 4096x4096, tile by tile.

    python -m benchmarks.render_memory [--size 4096] [--tile-pixels 65536]

Peak resident memory is the process's own high-water mark (ru_maxrss), imports included.
Writes benchmarks/results/render_memory.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from sasnet_codec.coords import domain_extent
from sasnet_codec.decoder import decode_network
from sasnet_codec.layout import parameter_count
from sasnet_codec.render import TILE_PIXELS, render

from .reports import publish
from .speed import default_network_file


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--tile-pixels", type=int, default=TILE_PIXELS)
    args = parser.parse_args(argv)
    header, network = decode_network(default_network_file(768, 512))
    before = peak_rss_mb()
    start = time.perf_counter()
    image = render(network, args.size, args.size, domain_extent(header.width, header.height),
                   tile_pixels=args.tile_pixels)
    report = {
        "render": f"{args.size}x{args.size}", "parameters": parameter_count(header.model),
        "tile_pixels": args.tile_pixels, "cores": os.cpu_count(),
        "seconds": round(time.perf_counter() - start, 1),
        "peak_rss_mb_before_render": round(before), "peak_rss_mb": round(peak_rss_mb()),
        "output_mb": round(image.nbytes / 2**20),
    }
    return publish("render_memory", report)


if __name__ == "__main__":
    main()
