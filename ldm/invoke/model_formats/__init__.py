"""Model files beyond diffusers folders: single-file checkpoints (SD 1.x, SD 2.x, SDXL) converted with
the shipped family configs, probing what a file is, and the LoRAs and textual-inversion embeddings a
prompt names.

    from ldm.invoke.model_formats.probe import probe_path
    probe_path("model.safetensors").family        # 'sd1', 'sd2' or 'sdxl'
"""
