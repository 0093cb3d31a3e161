"""The codec's speed targets on this machine's CPU (or a GPU), run one at a time with every core:
the median default-quality encode of Kodak-mini images, and the decode of a full-size Kodak
image (768x512) at the default quality, through the command line (what a user waits for,
Python and torch start-up included) and through the Python API (the decoder alone).

    python -m benchmarks.speed [--encode-images 6] [--encode-passes 3] [--repeats 5] [--device cuda]

Encodes go through the public API on the first images of Kodak-mini (Kodak beside the
checkout, or --images DIR downscaled 4x), in passes over the images (each image's median
counts): a shared machine's speed drifts by a third within minutes, and a pass each spreads
the drift over every image. Decoding cost depends on the network's shape and
the output size, not on the weights' values, so the file is the default (quality 5) network
for 768x512 at its initial weights, quantized with steps at 1/32 of each tensor's spread
(about the rate the encoder picks): fitting a full-size image on a CPU would take hours and
change nothing here.
Writes benchmarks/results/speed.json (speed-cuda.json with --device cuda: encode and decode
both on the GPU).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import sasnet_codec as sc
from sasnet_codec import bitstream
from sasnet_codec.encoder import pack_model
from sasnet_codec.layout import parameter_count
from sasnet_codec.model import SASNet
from sasnet_codec.tables import QUANT_STEP_COUNT

from .datasets import default_folder, load_images
from .reports import hardware, publish

def default_network_file(width: int, height: int) -> bytes:
    config = sc.encoder_config(width, height, 3).model
    model = SASNet(config)
    steps = {}
    for name, param in model.coded_parameters():
        spread = max(float(param.detach().std()) if param.numel() > 1 else 0.0, 1e-6)
        steps[name] = min(QUANT_STEP_COUNT - 1, max(0, round(-8 * math.log2(spread / 32))))
    image = sc.image_from_array(np.zeros((height, width, 3), dtype=np.uint8))
    return pack_model(model, steps, image)


def encode_seconds(folder: Path | None, count: int, device: str,
                   passes: int) -> dict[str, list[float]]:
    """Wall-clock seconds of a default encode (fit, search, fine-tune, self-check) per image,
    one per pass over the images."""
    images = load_images(folder, 4, count)
    configs = {}
    for image in images:
        height, width, channels = image.pixels.shape
        configs[image.name] = sc.encoder_config(width, height, channels, device=device)
    seconds: dict[str, list[float]] = {image.name: [] for image in images}
    for _ in range(passes):
        for image in images:
            start = time.perf_counter()
            sc.encode(image.pixels, configs[image.name], progress=False)
            seconds[image.name].append(round(time.perf_counter() - start, 1))
            print(f"encode {image.name}: {seconds[image.name][-1]} s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", help="folder of images (default: Kodak beside the checkout)")
    parser.add_argument("--encode-images", type=int, default=6, help="Kodak-mini images to encode")
    parser.add_argument("--encode-passes", type=int, default=3,
                        help="passes over the images (each image's median counts)")
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N], for encode and decode")
    args = parser.parse_args(argv)
    encodes = encode_seconds(Path(args.images) if args.images else default_folder(),
                             args.encode_images, args.device, args.encode_passes)
    command = shutil.which("sasnet-codec")
    if command is None:
        raise SystemExit("the sasnet-codec command is not installed (pip install -e .)")
    data = default_network_file(args.width, args.height)
    api, cli = [], []
    with tempfile.TemporaryDirectory() as folder:
        coded, decoded = Path(folder) / "image.sas", Path(folder) / "image.png"
        coded.write_bytes(data)
        for _ in range(args.repeats):
            start = time.perf_counter()
            sc.decode(data, device=args.device)
            api.append(time.perf_counter() - start)
            decoded.unlink(missing_ok=True)
            start = time.perf_counter()
            subprocess.run([command, "decode", str(coded), "-o", str(decoded), "--quiet",
                            "--device", args.device],
                           check=True)
            cli.append(time.perf_counter() - start)
    header = bitstream.unpack(data).header   # the header alone: no network to build
    report = {
        "decode_image": f"{args.width}x{args.height}", "parameters": parameter_count(header.model),
        "file_bytes": len(data), "device": args.device, "hardware": hardware(args.device),
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "encode_passes": args.encode_passes,
        "encode_seconds_median": round(statistics.median(
            statistics.median(times) for times in encodes.values()), 2),
        "encode_seconds": encodes,
        "decode_repeats": args.repeats,
        "api_decode_seconds_median": round(statistics.median(api), 3),
        "cli_decode_seconds_median": round(statistics.median(cli), 3),
        "api_decode_seconds": [round(t, 3) for t in api],
        "cli_decode_seconds": [round(t, 3) for t in cli],
    }
    return publish("speed" if args.device == "cpu" else "speed-cuda", report)


if __name__ == "__main__":
    main()
