from reglab.models.mlp import MLP, build_mlp, summarize

__all__ = ["MLP", "build_mlp", "summarize"]
