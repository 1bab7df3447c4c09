"""The name endings of weight files, by how each is read; no torch, as folder scans (the prompt box's
LoRA and embedding names, asked for while the studio starts) use them before the model loads."""

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
WEIGHT_SUFFIXES = SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES
