"""Small icons drawn with QPainter (no image files to ship or keep in sync with the palette)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPixmap

WARNING_COLOR = QColor(222, 140, 0)
INFO_COLOR = QColor(40, 120, 220)


@cache
def flag_icon(severity: str) -> QIcon:
    """A warning triangle or an info circle for a step's automated-check flags."""
    size = 32
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(20)
    painter.setFont(font)
    if severity == "warning":
        path = QPainterPath(QPointF(size / 2, 2))
        path.lineTo(size - 2, size - 3)
        path.lineTo(2, size - 3)
        path.closeSubpath()
        painter.setBrush(WARNING_COLOR)
        painter.drawPath(path)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(QRectF(0, 6, size, size - 8), Qt.AlignmentFlag.AlignCenter, "!")
    else:
        painter.setBrush(INFO_COLOR)
        painter.drawEllipse(QRectF(2, 2, size - 4, size - 4))
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, "i")
    painter.end()
    return QIcon(pixmap)
