"""How the main window is laid out: widgets, docks, menus and status bar, as one `WindowParts`.

What Qt Designer's generated `setupUi` would hold, written by hand: `build(window, actions,
db_path)` makes the parts, places them on the window and returns them. It connects nothing:
the window hands the parts to its controllers, which connect what they handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from workstation.ui.delegates import ConfidenceDelegate
from workstation.ui.inspector import StepInspector
from workstation.ui.messages import MessageBar
from workstation.ui.model_panel import ModelPanel
from workstation.ui.reading_view import ReadingView
from workstation.ui.sessions_panel import SessionsPanel
from workstation.ui.token_view import TokenView
from workstation.ui.tree_model import (
    COL_ALTERNATIVES,
    COL_CONFIDENCE,
    COL_FLAGS,
    COL_LABEL,
    COL_STEP,
    ReasoningTreeModel,
)


@dataclass(frozen=True)
class WindowParts:
    """Every widget and action of the main window, made once by `build`."""

    actions: dict[str, QAction]
    messages: MessageBar
    question: QPlainTextEdit
    #: Ctrl+Enter in the question editor (generate).
    question_shortcuts: tuple[QShortcut, ...]
    template: QComboBox
    tree_model: ReasoningTreeModel
    tree_view: QTreeView
    inspector: StepInspector
    main_split: QSplitter
    sessions: SessionsPanel
    sessions_dock: QDockWidget
    model_panel: ModelPanel
    model_dock: QDockWidget
    model_status: QLabel
    device_status: QLabel
    context_status: QLabel
    speed_status: QLabel
    db_status: QLabel
    #: The selected chain's outcome (solution correct, found an error, ...).
    outcome_status: QLabel
    #: The reading pane below the tree: the reading view, or the token view (View > Token view).
    reading: ReadingView
    token_view: TokenView
    reading_stack: QStackedWidget
    tree_split: QSplitter


def build(window: QMainWindow, actions: dict[str, QAction], db_path: Path) -> WindowParts:
    """Make the window's parts and place them on `window`."""
    messages = MessageBar()
    question, template, shortcuts, question_area = _question_area(actions)
    tree_model, tree_view = _tree(window)
    inspector = StepInspector(actions)
    inspector.setObjectName("inspector")
    main_split = QSplitter(Qt.Orientation.Horizontal)
    main_split.setObjectName("mainSplit")
    reading, token_view, reading_stack, tree_split = _reading_pane(tree_view)
    main_split.addWidget(tree_split)
    # Not in a scroll area: one would size it by its word-wrapped labels' preferred height
    # (taller than most screens); its minimum (about 430 x 500) fits a laptop screen.
    main_split.addWidget(inspector)
    main_split.setCollapsible(1, False)
    main_split.setStretchFactor(0, 3)
    main_split.setStretchFactor(1, 2)
    main_split.setSizes([700, 520])
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(messages)
    layout.addWidget(question_area)
    layout.addWidget(main_split, 1)
    window.setCentralWidget(central)
    sessions, sessions_dock, model_panel, model_dock = _docks(window, actions)
    _menus(window, actions, (sessions_dock, model_dock))
    labels = _status(window, db_path)
    return WindowParts(actions, messages, question, shortcuts, template, tree_model, tree_view, inspector,
                       main_split, sessions, sessions_dock, model_panel, model_dock, *labels,
                       reading=reading, token_view=token_view, reading_stack=reading_stack, tree_split=tree_split)


def _reading_pane(tree_view: QTreeView) -> tuple[ReadingView, TokenView, QStackedWidget, QSplitter]:
    """The tree above (the structure), the reading pane below (the text), in one splitter."""
    reading, token_view = ReadingView(), TokenView()
    stack = QStackedWidget()
    stack.setObjectName("readingStack")
    stack.addWidget(reading)
    stack.addWidget(token_view)
    split = QSplitter(Qt.Orientation.Vertical)
    split.setObjectName("treeSplit")
    split.addWidget(tree_view)
    split.addWidget(stack)
    split.setStretchFactor(0, 2)
    split.setStretchFactor(1, 3)
    split.setSizes([240, 360])
    return reading, token_view, stack, split


def scrolled(widget: QWidget) -> QScrollArea:
    """`widget` in a frameless scroll area that resizes it."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


def _question_area(
    actions: dict[str, QAction],
) -> tuple[QPlainTextEdit, QComboBox, tuple[QShortcut, ...], QWidget]:
    question = QPlainTextEdit()
    question.setObjectName("questionEditor")
    question.setPlaceholderText("Ask the model a question to reason about… (Ctrl+Enter or Ctrl+G generates)")
    question.setMaximumHeight(84)
    template = QComboBox()
    template.setObjectName("templatePicker")
    template.setToolTip("The prompt template: how the model is asked to reason")
    # As wide as the longest template name ("chain-of-thought" was cut to "chain-of-").
    template.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    shortcuts = []
    for keys in ("Ctrl+Return", "Ctrl+Enter"):
        shortcut = QShortcut(QKeySequence(keys), question)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcuts.append(shortcut)
    buttons = QVBoxLayout()
    buttons.addWidget(template)
    for name in ("generate", "stop"):
        button = QToolButton()
        button.setDefaultAction(actions[name])
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        buttons.addWidget(button)
    buttons.addStretch(1)
    area = QWidget()
    area_layout = QHBoxLayout(area)
    area_layout.setContentsMargins(0, 0, 0, 0)
    area_layout.addWidget(question, 1)
    area_layout.addLayout(buttons)
    return question, template, tuple(shortcuts), area


def _tree(window: QMainWindow) -> tuple[ReasoningTreeModel, QTreeView]:
    tree_model = ReasoningTreeModel(window)
    tree_view = QTreeView()
    tree_view.setObjectName("reasoningTree")
    tree_view.setModel(tree_model)
    tree_view.setUniformRowHeights(True)
    tree_view.setAlternatingRowColors(True)
    tree_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    tree_view.setItemDelegateForColumn(COL_CONFIDENCE, ConfidenceDelegate(tree_view))
    header = tree_view.header()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(COL_STEP, QHeaderView.ResizeMode.Stretch)
    # Compact numeric columns: the step column takes the width (the reading view has the text).
    for column, width in ((COL_LABEL, 78), (COL_FLAGS, 92), (COL_CONFIDENCE, 64), (COL_ALTERNATIVES, 44)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(column, width)
    return tree_model, tree_view


def _docks(
    window: QMainWindow, actions: dict[str, QAction]
) -> tuple[SessionsPanel, QDockWidget, ModelPanel, QDockWidget]:
    """The Sessions and Model docks, tabbed on the left."""
    sessions = SessionsPanel(actions)
    sessions_dock = QDockWidget("Sessions", window)
    sessions_dock.setObjectName("sessionsDock")
    sessions_dock.setWidget(sessions)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, sessions_dock)
    model_panel = ModelPanel(actions["load_model"])
    model_dock = QDockWidget("Model", window)
    model_dock.setObjectName("modelDock")
    model_dock.setWidget(scrolled(model_panel))
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, model_dock)
    window.tabifyDockWidget(sessions_dock, model_dock)
    sessions_dock.raise_()
    window.resizeDocks([sessions_dock], [240], Qt.Orientation.Horizontal)  # until a saved layout
    return sessions, sessions_dock, model_panel, model_dock


def _menus(window: QMainWindow, actions: dict[str, QAction], docks: tuple[QDockWidget, ...]) -> None:
    """The menu bar, from the window's actions."""
    menus = (
        ("&File", ("new_session", "rename_session", "delete_session", None, "settings", None, "quit")),
        ("&Edit", ("undo", "redo", None, "search")),
        ("&Review", ("generate", "stop", None, "label_wrong", "label_neutral", "label_right", "save_annotation",
                     "focus_note", "focus_tags", "cycle_severity", None, "next_step", "previous_step",
                     "next_unlabelled", "next_flagged", None, "outcome_solution", "outcome_found_error",
                     "outcome_give_up", "outcome_bad_problem", "confirm_flag", None, "edit", "commit_rewrite", None, "regenerate", "regenerate_with_note", "continue_after",
                     "challenge", "ask", None, "delete_branch")),
        ("&Branches", ("previous_alternative", "next_alternative", "prefer", "compare", None, "branch_token")),
        ("&View", ("focus_tree", "focus_question", None, "token_view")),
        ("&Model", ("load_model", "use_server")),
        ("&Help", ("help",)),
    )
    for title, names in menus:
        menu = window.menuBar().addMenu(title)
        for name in names:
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(actions[name])
        if title == "&View":
            menu.addSeparator()
            for dock in docks:
                menu.addAction(dock.toggleViewAction())


def _status(window: QMainWindow, db_path: Path) -> tuple[QLabel, QLabel, QLabel, QLabel, QLabel, QLabel]:
    """The status bar's permanent labels: model, device, context, speed, database, outcome."""
    # The database by its file name (the full path in its tooltip): the whole path crowded out the rest.
    labels = (QLabel("Model: looking…"), QLabel(""), QLabel(""), QLabel(""), QLabel(f"Database: {db_path.name}"),
              QLabel(""))
    names = ("modelStatus", "deviceStatus", "contextStatus", "speedStatus", "dbStatus", "outcomeStatus")
    for name, label in zip(names, labels, strict=True):
        label.setObjectName(name)
        label.setTextFormat(Qt.TextFormat.PlainText)
        window.statusBar().addPermanentWidget(label)
    labels[4].setToolTip(str(db_path))
    return labels
