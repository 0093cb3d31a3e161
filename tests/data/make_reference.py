"""Regenerate reference.sas and reference_decoded.png (only when the format version changes;
reference-v1.sas and reference-v5.sas stay, the same network as formats 1 and 5 write it,
`encoder.repack(data, version)`: the decoder still reads them):

    python -m tests.data.make_reference
"""

from pathlib import Path

from PIL import Image

import sasnet_codec as sc
from tests.helpers import synthetic_image, tiny_config

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    result = sc.encode(synthetic_image(24, 16), tiny_config(steps=200), progress=False)
    (HERE / "reference.sas").write_bytes(result.data)
    Image.fromarray(sc.decode(result.data)).save(HERE / "reference_decoded.png")
    print(len(result.data), "bytes", result.psnr, "dB")
