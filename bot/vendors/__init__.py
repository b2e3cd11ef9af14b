"""OCR vendors behind one interface (see base.py)."""
