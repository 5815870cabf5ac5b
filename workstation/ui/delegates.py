"""Item delegates: the confidence bar of a step row."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from workstation.ui.tree_model import ConfidenceRole


def confidence_color(probability: float) -> QColor:
    """Red for a low typical token probability, through amber, to green for a high one."""
    p = max(0.0, min(1.0, probability))
    hue = int(120 * p)  # 0 = red, 120 = green
    return QColor.fromHsv(hue, 170, 210)


class ConfidenceDelegate(QStyledItemDelegate):
    """Draws the typical token probability as a bar, with a tick at the lowest token's."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        # Asked of the Python model directly: PySide6 6.12 loses a reference to None each time
        # QModelIndex.data() converts an empty QVariant (Python 3.11 then aborts at exit).
        value = index.model().data(index, ConfidenceRole)
        if value is None:
            super().paint(painter, option, index)
            return
        mean_p, min_p, _ = value
        style = option.widget.style() if option.widget is not None else QApplication.style()
        # Background and selection as the style draws them, without the text.
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, option.widget)
        # The bar on the left, the number beside it (never under the tick).
        rect: QRect = option.rect.adjusted(4, 5, -40, -5)
        label_rect = QRect(rect.right() + 4, option.rect.top(), 34, option.rect.height())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette
        painter.setPen(palette.color(palette.ColorRole.Mid))
        painter.setBrush(palette.color(palette.ColorRole.Base))
        painter.drawRoundedRect(rect, 3, 3)
        filled = QRect(rect)
        filled.setWidth(max(2, int(rect.width() * mean_p)))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(confidence_color(mean_p))
        painter.drawRoundedRect(filled, 3, 3)
        if min_p is not None:
            x = rect.left() + int(rect.width() * max(0.0, min(1.0, min_p)))
            painter.setPen(palette.color(palette.ColorRole.Text))
            painter.drawLine(x, rect.top() - 2, x, rect.bottom() + 2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(palette.color(palette.ColorRole.HighlightedText if selected else palette.ColorRole.Text))
        painter.drawText(label_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, f"{mean_p:.0%}")
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 110), hint.height())
