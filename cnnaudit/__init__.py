"""cnnaudit: will this CNN fit on my microcontroller? Answered exactly, before training."""

from .api import analyse, audit
from .boards import Board, load_boards
from .errors import CnnauditError
from .report import Report

__version__ = "0.1.0"

__all__ = ["Board", "CnnauditError", "Report", "__version__", "analyse", "audit", "load_boards"]
