"""matcalc's command line, installed as `matcalc.cli` (see `main.py`)."""
