"""The Team view: who labelled what, how far reviewers agree, and the disagreement queue.

Statistics and the queue come from `Exchange.stats()` / `disagreements()` on the worker, as
plain data; the charts and tables only show them. Reviewer ids, tags, models and step text come
from people and the model, so they are shown as plain text (Qt Charts renders its axis labels
as HTML, so they are escaped there). The view covers every session or the one chosen in its
session filter. `team_menu.install_team_menu` adds the Team menu and this view to a window. The charts are in
team_charts.py, the queue's model and adjudication form in team_queue.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCharts import QChartView
from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workstation.ui.exchange_dialogs import plain_label, tell
from workstation.ui.team_charts import LABEL_COLOURS, BarChart, fill, table
from workstation.ui.team_queue import LABEL_WORDS, AdjudicateForm, DisagreementModel

if TYPE_CHECKING:
    from workstation.exchange.agreement import QueueItem, TeamStats
    from workstation.review import Review
    from workstation.store.records import SessionSummary
    from workstation.ui.backend import Backend

def _number(value: float | None, digits: int = 3) -> str:
    return "not defined" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class TeamData:
    """What the Team view shows, computed on the worker."""

    stats: TeamStats
    queue: tuple[QueueItem, ...]
    reviewer_id: str
    role: str
    sessions: tuple[tuple[str, str], ...] = ()  # (id, title) of every session, for the filter
    scope: str = ""  # the session the figures cover; "" for all


def _title(session: SessionSummary) -> str:
    text: str = session.title or session.question or session.id
    return (text.strip().splitlines() or [session.id])[0][:120]


def _team_data(review: Review, session_id: str = "") -> TeamData:
    """The figures and the queue over every session, or over `session_id` where it still exists."""
    from workstation.exchange.agreement import QueueItem
    from workstation.review_exchange import Exchange

    exchange = Exchange(review)
    titles = {s.id: _title(s) for s in review.sessions()}
    scope = session_id if session_id in titles else ""
    only = [scope] if scope else None
    queue = tuple(QueueItem(**d.to_dict(), session_title=titles.get(d.session_id, d.session_id))
                  for d in exchange.disagreements(only))
    return TeamData(exchange.stats(only), queue, review.reviewer.id, review.reviewer.role,
                    tuple(titles.items()), scope)


def _adjudicate(review: Review, node_id: str, label: int, reason: str, role: str) -> str:
    """Adjudicate as the window's reviewer acting in `role` (an expert or ethics reviewer)."""
    from workstation.core.model import Reviewer
    from workstation.review_exchange import Exchange

    me = review.reviewer
    # Only for this job: the worker runs jobs one at a time, so nothing else sees the role.
    review.reviewer = Reviewer(me.id, role, me.name)
    try:
        return Exchange(review).adjudicate(node_id, label, reason).event.id
    finally:
        review.reviewer = me


class TeamView(QWidget):
    """Reviewer counts and label distributions, agreement, tags and flags, challenged step
    types, per-model error rates, and the disagreement queue with its adjudication form."""

    refreshed = Signal()
    adjudicated = Signal(str, str, str)  # session id, node id, what was done
    open_requested = Signal(str, str)  # session id, node id: show the step in the reasoning tree

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.data: TeamData | None = None
        self.loading = False
        self._again = False
        self.tabs = QTabWidget()
        self.summary = plain_label(name="teamSummary")
        self.scope = QComboBox()
        self.scope.setObjectName("teamSessionFilter")
        self.scope.setToolTip("The session the figures and the queue cover")
        self.scope.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.scope.setMinimumContentsLength(24)
        self.scope.addItem("All sessions", "")
        self.scope.currentIndexChanged.connect(lambda _index: self.refresh())
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(plain_label("Session", wrap=False))
        top.addWidget(self.scope, 1)
        top.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)

        self.labels_chart = BarChart("Labels per reviewer")
        self.reviewers = table(["Reviewer", "Role", "Annotations", "Labels", "Wrong", "Neutral", "Right", "Notes"],
                                "teamReviewers")
        self.alpha = plain_label(name="teamAlpha")
        self.kappa = table(["Reviewer", "Reviewer", "Steps both labelled", "Cohen's kappa"], "teamKappa")
        self.tabs.addTab(self._page(self.labels_chart, self.reviewers, self.alpha, self.kappa), "Reviewers")

        self.tags_chart = BarChart("Most frequent tags", horizontal=True)
        self.flags_chart = BarChart("Most frequent flags (automated checks)", horizontal=True)
        self.tabs.addTab(self._page(self.tags_chart, self.flags_chart), "Tags and flags")

        self.challenged_chart = BarChart("Most challenged step types")
        self.models_chart = BarChart("Error rate per model (majority label wrong)", horizontal=True)
        self.models = table(["Model", "Labelled steps", "Wrong", "Error rate"], "teamModels")
        self.tabs.addTab(self._page(self.challenged_chart, self.models_chart, self.models), "Steps and models")

        self.queue_model = DisagreementModel(self)
        self.queue = QTableView()
        self.queue.setObjectName("disagreementQueue")
        self.queue.setModel(self.queue_model)
        self.queue.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.queue.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.queue.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.queue.verticalHeader().hide()
        self.queue.setWordWrap(False)
        header = self.queue.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)  # the step's text takes the room left
        for column, width in ((0, 180), (1, 50), (2, 220)):
            self.queue.setColumnWidth(column, width)
        self.queue.selectionModel().currentRowChanged.connect(self._on_queue_row)
        self.queue.doubleClicked.connect(lambda _index: self.show_in_tree())
        self.form = AdjudicateForm()
        self.form.submit.clicked.connect(lambda: self.adjudicate())
        self.form.show_step.clicked.connect(self.show_in_tree)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.queue)
        split.addWidget(self.form)
        self.queue_tab = self.tabs.addTab(split, "Disagreements")

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(400)
        self._timer.timeout.connect(self.refresh)
        backend.state_changed.connect(lambda _state: self.schedule_refresh())

    @staticmethod
    def _page(*widgets: QWidget) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        for widget in widgets:
            layout.addWidget(widget, 1 if isinstance(widget, (QChartView, QTableWidget)) else 0)
        return page

    # -- loading -------------------------------------------------------------------------------

    def schedule_refresh(self) -> None:
        """Refresh soon, once, if the view is shown (labels change often while reviewing)."""
        if self.isVisible():
            self._timer.start()

    def refresh(self) -> None:
        """Compute the statistics and the queue again on the worker."""
        if self.loading:
            self._again = True
            return
        self.loading = True
        self.summary.setText("Counting…" if self.data is None else self.summary.text())
        # Not quick: over a large database the figures take a moment, which must not pause a
        # generation's stream; they are computed when the model is idle.
        scope = self.chosen_session()
        self.backend.call(lambda review: _team_data(review, scope), self._on_data, self._on_failed, quick=False)

    def chosen_session(self) -> str:
        """The session id the filter names; "" for all sessions."""
        return str(self.scope.currentData() or "")

    def choose_session(self, session_id: str) -> None:
        """Cover one session ("" for all); the figures follow on the worker."""
        row = self.scope.findData(session_id)
        if row < 0:  # not listed yet (a new session): listed with the next figures
            self.scope.blockSignals(True)
            self.scope.addItem(session_id[:8], session_id)
            self.scope.blockSignals(False)
            row = self.scope.count() - 1
        self.scope.setCurrentIndex(row)

    def _show_sessions(self, sessions: tuple[tuple[str, str], ...]) -> None:
        """List the sessions in the filter, keeping the choice (a deleted one falls back to all)."""
        chosen = self.chosen_session()
        self.scope.blockSignals(True)
        self.scope.clear()
        self.scope.addItem("All sessions", "")
        for session_id, title in sessions:
            self.scope.addItem(title, session_id)
            self.scope.setItemData(self.scope.count() - 1, title, Qt.ItemDataRole.ToolTipRole)
        self.scope.setCurrentIndex(max(0, self.scope.findData(chosen)))
        self.scope.blockSignals(False)

    def _on_failed(self, message: str) -> None:
        self.loading = False
        tell(self.backend, message)

    def _on_data(self, data: TeamData) -> None:
        self.loading = False
        self.data = data
        self._show_sessions(data.sessions)
        if data.scope != self.chosen_session():  # the choice changed while counting
            self._again = True
        self.show_stats(data.stats)
        self.show_queue(list(data.queue))
        self.form.set_identity(data.reviewer_id, data.role)
        if self._again:
            self._again = False
            self.refresh()
        else:
            self.refreshed.emit()

    def show_stats(self, stats: TeamStats) -> None:
        """Fill the charts and tables from `Exchange.stats()`."""
        reviewers = stats["reviewers"]
        names = list(reviewers)
        self.summary.setText(f"{stats['sessions']} session(s), {len(names)} reviewer(s), "
                             f"{stats['disagreements']} disagreement(s) waiting")
        self.labels_chart.show_bars(names, [
            (LABEL_WORDS[v], [reviewers[n]["label_distribution"][str(v)] for n in names], LABEL_COLOURS[v])
            for v in (-1, 0, 1)
        ])
        fill(self.reviewers, [
            # Labels on current versions, as the error rate counts them; those on rewritten
            # steps' earlier versions apart (a label belongs to the version it was given on).
            [n, r["role"], str(r["annotations"]),
             str(r["labels"]) + (f" (+{r['labels_on_earlier_versions']} earlier)"
                                 if r.get("labels_on_earlier_versions") else ""),
             *(str(r["label_distribution"][str(v)]) for v in (-1, 0, 1)), str(r["notes"])]
            for n, r in reviewers.items()
        ])
        agreement = stats["agreement"]
        alpha = agreement["krippendorff_alpha_ordinal"]
        self.alpha.setText(
            f"Krippendorff's alpha (ordinal): {_number(alpha)} over {agreement['units']} labelled step version(s), "
            f"{agreement['units_with_two_or_more_labels']} with two or more reviewers"
            + ("" if alpha is not None else " (it needs two reviewers labelling the same steps, with some variety)")
        )
        fill(self.kappa, [[p["reviewers"][0], p["reviewers"][1], str(p["units"]), _number(p["kappa"])]
                           for p in agreement["cohen_kappa_pairs"]])
        self.tags_chart.show_bars([t["tag"] for t in stats["tags"]],
                                  [("uses", [t["count"] for t in stats["tags"]], None)])
        self.flags_chart.show_bars([f["check"] for f in stats["flags"]],
                                   [("flags", [f["count"] for f in stats["flags"]], None)])
        challenged = stats["challenged_step_types"]
        self.challenged_chart.show_bars([c["type"] for c in challenged],
                                        [("challenges", [c["challenges"] for c in challenged], None)])
        models = stats["models"]
        self.models_chart.show_bars(list(models), [
            ("error rate", [100 * (m["error_rate"] or 0.0) for m in models.values()], LABEL_COLOURS[-1])
        ], percent=True)
        fill(self.models, [[name, str(m["labelled_steps"]), str(m["wrong"]),
                             "—" if m["error_rate"] is None else f"{100 * m['error_rate']:.1f}%"]
                            for name, m in models.items()])

    def show_queue(self, items: list[QueueItem]) -> None:
        """Show the disagreement queue, keeping the selected step where it is still there."""
        selected = self.selected_item()
        # A refresh (after any label anywhere) must not wipe a half-written adjudication.
        typed = (self.form.chosen_label(), self.form.reason.toPlainText())
        self.queue_model.set_items(items)
        self.tabs.setTabText(self.queue_tab, f"Disagreements ({len(items)})")
        row = next((i for i, d in enumerate(items) if selected and d["node_id"] == selected["node_id"]), -1)
        if row < 0 and items:
            row = 0
        if row >= 0:
            self.queue.selectRow(row)
            self.queue.setCurrentIndex(self.queue_model.index(row, 0))
        self.form.show_item(items[row] if row >= 0 else None)
        if selected is not None and row >= 0 and items[row]["node_id"] == selected["node_id"]:
            if typed[0] is not None:
                self.form.set_label(typed[0])
            self.form.reason.setPlainText(typed[1])

    # -- the queue -----------------------------------------------------------------------------

    def selected_item(self) -> QueueItem | None:
        """The queued step selected, if any."""
        index = self.queue.currentIndex()
        return self.queue_model.items[index.row()] if index.isValid() else None

    def select_node(self, node_id: str) -> None:
        """Select a queued step by id."""
        for row, item in enumerate(self.queue_model.items):
            if item["node_id"] == node_id:
                self.queue.setCurrentIndex(self.queue_model.index(row, 0))
                return

    def show_in_tree(self) -> None:
        """Ask the window to open the selected step's session at the step."""
        item = self.selected_item()
        if item is not None:
            self.open_requested.emit(item["session_id"], item["node_id"])

    def _on_queue_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.form.show_item(self.queue_model.items[current.row()] if current.isValid() else None)

    def adjudicate(self) -> None:
        """Settle the selected step with the form's label and reason (on the worker)."""
        item = self.selected_item()
        label = self.form.chosen_label()
        reason = self.form.reason.toPlainText().strip()
        if item is None or label is None or not reason:
            self.form.feedback.setText("Pick a label and say why it is right.")
            return
        role = str(self.form.role.currentData())
        node_id, session_id = item["node_id"], item["session_id"]
        self.form.submit.setEnabled(False)
        self.form.feedback.setText("Saving…")

        def done(_event_id: str) -> None:
            self.form.submit.setEnabled(True)
            self.form.feedback.setText(f"Step {item['position']} settled as {LABEL_WORDS[label]}.")
            self.adjudicated.emit(session_id, node_id,
                                  f"settle step {item['position']} as {LABEL_WORDS[label]}")
            self.refresh()

        def failed(message: str) -> None:
            self.form.submit.setEnabled(True)
            self.form.feedback.setText(message)
            tell(self.backend, message)

        self.backend.call(lambda review: _adjudicate(review, node_id, label, reason, role), done, failed,
                          refresh=session_id)


class TeamDock(QDockWidget):
    """The Team view in a dock; it refreshes whenever it is shown."""

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__("Team", parent)
        self.setObjectName("teamDock")  # saveState/restoreState find docks by name
        self.view = TeamView(backend)
        # In a scroll area: the view's tables want about 400 px, which at 1000x700 left the tree
        # under 200; scrolled, the dock can be as narrow as the reviewer makes it.
        area = QScrollArea()
        area.setWidget(self.view)
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setMinimumWidth(200)
        self.setWidget(area)
        self.visibilityChanged.connect(self._on_visibility)

    def _on_visibility(self, visible: bool) -> None:
        if visible:
            self.view.refresh()
