"""The Team view's charts and tables: bar charts and plain-text tables redrawn from plain numbers.

Names on the charts come from people and the model; Qt Charts renders its axis labels as HTML,
so they are escaped (`chart_text`). Table cells are plain-text items.
"""

from __future__ import annotations

import html

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalBarSeries,
    QValueAxis,
)
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

LABEL_COLOURS = {-1: QColor("#c62828"), 0: QColor("#9e9e9e"), 1: QColor("#2e7d32")}
#: Category names longer than this are cut in charts (the tables show them whole).
CHART_NAME_CHARS = 24


def chart_text(text: str) -> str:
    """A name from the data, made safe for Qt Charts (which renders labels as HTML) and short."""
    text = " ".join(str(text).split()) or "(none)"
    if len(text) > CHART_NAME_CHARS:
        text = text[: CHART_NAME_CHARS - 1] + "…"
    return html.escape(text)


class BarChart(QChartView):
    """A bar chart that is redrawn from plain numbers."""

    def __init__(self, title: str, *, horizontal: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.horizontal = horizontal
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(220)
        self.title = title
        self.chart().setTitle(html.escape(title))
        self.chart().setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.categories: list[str] = []

    def show_bars(self, categories: list[str], sets: list[tuple[str, list[float], QColor | None]],
                  *, percent: bool = False) -> None:
        """Draw one bar set per (name, values, colour), over `categories` (names from the data)."""
        chart = self.chart()
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
            axis.deleteLater()
        self.categories = [chart_text(c) for c in categories]
        chart.legend().setVisible(len(sets) > 1)
        chart.setTitle(html.escape(self.title if categories else f"{self.title}: none yet"))
        if not categories:
            return
        series = QHorizontalBarSeries() if self.horizontal else QBarSeries()
        shown = list(self.categories)
        if self.horizontal:  # Qt draws the first category at the bottom: the most frequent goes on top
            shown.reverse()
            sets = [(name, list(reversed(values)), colour) for name, values, colour in sets]
        top = 0.0
        for name, values, colour in sets:
            bar_set = QBarSet(html.escape(name))
            if colour is not None:
                bar_set.setColor(colour)
            for value in values:
                bar_set.append(float(value))
            top = max([top, *values])
            series.append(bar_set)
        chart.addSeries(series)
        names = QBarCategoryAxis()
        names.append(shown)
        values_axis = QValueAxis()
        values_axis.setRange(0, 100 if percent else max(1.0, top))
        values_axis.setLabelFormat("%.0f%%" if percent else "%.0f")
        if not percent:
            values_axis.setTickCount(min(int(max(1.0, top)) + 1, 6))
            values_axis.applyNiceNumbers()  # counts: whole, evenly spaced ticks
        name_side, value_side = Qt.AlignmentFlag.AlignBottom, Qt.AlignmentFlag.AlignLeft
        if self.horizontal:
            name_side, value_side = value_side, name_side
        chart.addAxis(names, name_side)
        chart.addAxis(values_axis, value_side)
        series.attachAxis(names)
        series.attachAxis(values_axis)


def table(headers: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.setItem(r, c, QTableWidgetItem(value))  # items are plain text
