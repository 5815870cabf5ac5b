"""ui layer: the PySide6 window. Nothing outside this package imports Qt.

PySide6 6.12.0 on CPython 3.11 drops a reference to None on every Python call of a Qt method
that returns void (`label.setText(...)`; measured with sys.getrefcount, 1,000 calls lose 1,000
references), and to None or a bool in a few conversions. A window makes such calls all day,
and once None's count reaches zero CPython aborts ("none_dealloc"), at the latest when the
process exits. From 3.12 these singletons are immortal, which hides the bug; on 3.11 the same
is done here by giving them a reference count no session can use up.
"""

from __future__ import annotations

import sys


def _pin_singletons() -> None:
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    import ctypes

    for obj in (None, True, False):
        # ob_refcnt is the first field of every CPython object.
        count = ctypes.c_ssize_t.from_address(id(obj))
        if count.value < 1 << 40:
            count.value += 1 << 40


_pin_singletons()
