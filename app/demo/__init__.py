"""A realistic alliance world to demonstrate and try the product, kept out of the code that serves users.

Two alliances: the National Orthopaedic Alliance (its founding partners and twenty-odd members across
England's regions) and a Guy's and St Thomas' style Healthcare Alliance (Dartford and Gravesham as founding
full member, plus full and specialty members), with self-assessments for the 2025/26 and 2026/27 cycles.
Organisation names, types and regions are real; every answer, score and decision is invented, and targets in
the standards are illustrative.

``world.yaml`` holds the world as data (read and checked by ``world.py``), ``answers.py`` draws the
self-assessment answers from the loaded standards, ``loader.py`` plays the story through the services, and
``report.py`` says what was loaded and lists the demo users.
``python cli.py demo load`` runs it; loading twice adds nothing.
"""

from .loader import load_demo
from .report import DemoReport, demo_users
from .world import DemoError, World, read_world

__all__ = ["DemoError", "DemoReport", "World", "demo_users", "load_demo", "read_world"]
