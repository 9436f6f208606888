"""Embedding models behind one small port (`base.Embedder`).

Adapters: `onnx` (all-MiniLM-L6-v2 int8, fully offline), `http` (any
OpenAI-compatible `/embeddings` endpoint). Backend `none` means no embedder.
Nothing here imports numpy or onnxruntime at import time.
"""
