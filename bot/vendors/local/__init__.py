"""The embedded offline engine (`local`): rapidocr on onnxruntime plus a card layout parser.

Importing the package registers the vendor; the OCR models load lazily, once per process, on the first
recognition (or `shared_engine()`), so listing vendors or validating config stays cheap.
"""

from bot.vendors.local.vendor import LocalSettings, LocalVendor

__all__ = ["LocalSettings", "LocalVendor"]
