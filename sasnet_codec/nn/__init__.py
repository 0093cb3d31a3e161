"""Network building blocks: the frozen frequency embedding, sine layers, the hash grid and the
mask decoder. Pure PyTorch; tinycudann is an optional backend for the hash grid."""
