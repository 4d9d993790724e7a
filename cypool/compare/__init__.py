"""`cypool compare`: run every registered downsampling strategy on the same workloads and write a
report folder (report.md, results.csv, speed.csv and PNG figures).

    run.py        the command: arguments, the measurement loop, the report folder
    workloads.py  the data (synthetic speed tensors, photo feature maps, photos, digits)
    metrics.py    speed, memory, reconstruction, shift consistency, noise, learned quality
    figures.py    the PNGs
    report.py     report.md and the CSVs
"""
from .run import add_arguments, main, run

__all__ = ["add_arguments", "main", "run"]
