"""What a study will cost, said before it trains: memory (memory_model.py, torch-free, checked while
the study is validated) and time (time_estimate.py, measured by timing a few steps here)."""
