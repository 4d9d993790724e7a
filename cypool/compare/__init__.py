"""`cypool compare`: run every registered downsampling strategy on the same workloads and write a
report folder (report.md, results.csv, speed.csv and PNG figures).

    run.py        the command: arguments, the measurement loop, the report folder
    workloads.py  the data single strategies run on (speed tensors, photo feature maps, photos)
    metrics.py    speed, memory, reconstruction, shift change, noise of single strategies
    datasets.py   the image datasets the networks learn (digits, textures; bundled data only)
    trained.py    the CNN per strategy, trained with PyTorch, and what is measured on it
    figures.py    the PNGs
    report.py     report.md and the CSVs
"""
from .run import add_arguments, main, run

__all__ = ["add_arguments", "main", "run"]
