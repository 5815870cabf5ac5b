"""The engine layer: local GGUF models through llama-cpp-python. Never imports Qt.

- `gguf_info`, `discovery`: read model headers and find model files (no weights loaded).
- `protocol`: the `Engine` protocol every engine implements, with `Prompt` and `ModelInfo`.
- `llama_engine`: `LlamaEngine` (the local `Engine`) and `LoadOptions`.
- `prompt`: chat messages to `Prompt` tokens with the model's own chat template.
- `events`: `SamplingParams`, and the `TokenEvent` / `FinishEvent` a generation yields.
- `state_cache`: the memory-bounded LRU of context snapshots behind instant regenerate.
- `confidence`: per-step confidence from token log-probabilities.
- `errors`: the engine's typed errors.

Import the submodules directly: importing this package does not load llama.cpp.
"""
