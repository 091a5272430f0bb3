"""What a benchmark ran on, for its results file."""
import os
import platform

import torch


def machine() -> str:
    """e.g. ``x86_64, 2 cores, CPython 3.11.7, torch 2.13.0, CPU only``."""
    device = (f'GPU {torch.cuda.get_device_name(0)}'
              if torch.cuda.is_available() else 'CPU only')
    return (f'{platform.machine()}, {os.cpu_count()} cores, '
            f'{platform.python_implementation()} '
            f'{platform.python_version()}, torch {torch.__version__}, '
            f'{device}')
