"""A local model that runs in-process on the CPU (llama.cpp), so Parley answers offline."""

from .model import LocalModel, bundled_model_path, llama_cpp_installed

__all__ = ["LocalModel", "bundled_model_path", "llama_cpp_installed"]
