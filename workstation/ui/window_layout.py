"""How the main window is laid out: its actions table, widgets, docks, menus and status bar.

What Qt Designer's generated `setupUi` would hold, written by hand: each function builds one
part of a `MainWindow` and sets the widgets on it as attributes (`window.tree_view`, ...), wiring
their signals to the window's own handlers. The window itself (main_window.py) keeps the
behaviour: state from the worker, the model, streams, review actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from workstation.ui.delegates import ConfidenceDelegate
from workstation.ui.inspector import StepInspector
from workstation.ui.messages import MessageBar
from workstation.ui.model_panel import ModelPanel
from workstation.ui.sessions_panel import SessionsPanel
from workstation.ui.tree_model import (
    COL_ALTERNATIVES,
    COL_CONFIDENCE,
    COL_FLAGS,
    COL_LABEL,
    COL_STEP,
    ReasoningTreeModel,
)

if TYPE_CHECKING:
    from workstation.ui.main_window import MainWindow

#: name, text, shortcuts, tooltip. Plain keys (1, 2, 3, [, ]) act when the tree has focus; text
#: fields keep them for typing (Qt lets a focused editor override single-key shortcuts).
ACTIONS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("generate", "&Generate", ("Ctrl+G",), "Let the model reason about the question"),
    ("stop", "&Stop", ("Esc",), "Stop the model now"),
    ("label_wrong", "Wrong", ("1",), "Label the step wrong"),
    ("label_neutral", "Neutral", ("2",), "Label the step neutral"),
    ("label_right", "Right", ("3",), "Label the step right"),
    ("save_annotation", "Save note", ("Ctrl+S",), "Save the note, tags and severity of the step"),
    ("edit", "&Rewrite step", ("E",), "Rewrite the step in place"),
    ("commit_rewrite", "Save rewrite", ("Ctrl+Return",), "Save the rewrite as a new version (Ctrl+Enter)"),
    ("regenerate", "Regenerate from here", ("R",), "A new alternative for this step and what follows"),
    ("regenerate_with_note", "Regenerate with note", ("Shift+R",), "Regenerate, with your note as the critique"),
    ("continue_after", "Continue after", ("Shift+C",),
     "New steps after this one (say, after a rewrite); after the question, steps from the start"),
    ("challenge", "Why?", ("W",), "Ask the model why this step holds; the answer streams in below it"),
    ("ask", "Ask…", ("Shift+W",), "Ask the model your own question about this step"),
    ("delete_branch", "Delete branch", ("Del",), "Delete the branch starting at this step (undoable)"),
    ("previous_alternative", "◀ Previous", ("[", "Alt+Left"), "Show the previous alternative of this step"),
    ("next_alternative", "Next ▶", ("]", "Alt+Right"), "Show the next alternative of this step"),
    ("prefer", "★ Prefer", ("P",), "Mark this branch as the preferred one"),
    ("compare", "Compare…", ("Ctrl+D",), "Compare two alternatives side by side"),
    ("new_session", "&New session", ("Ctrl+N",), "Start a new question"),
    ("rename_session", "Re&name session", ("F2",), "Rename the open session"),
    ("delete_session", "Delete session", (), "Hide the open session from the list (undoable; the audit log keeps it)"),
    ("search", "&Find", ("Ctrl+F",), "Search sessions and steps"),
    ("focus_tree", "Go to tree", ("Ctrl+T",), "Move the keyboard focus to the reasoning tree"),
    ("focus_question", "Go to question", ("Ctrl+K",), "Move the keyboard focus to the question"),
    ("load_model", "&Load model", ("Ctrl+L",), "Load the model selected in the model panel"),
    ("settings", "Se&ttings…", ("Ctrl+,",), "Every setting, with its description"),
    ("help", "&Keyboard shortcuts", ("F1",), "This list"),
    ("quit", "&Quit", ("Ctrl+Q",), "Close the window"),
)
#: Actions that need a selected step (not a question, not a row still being written); Continue
#: after also takes the question (steps from the start).
STEP_ACTIONS = (
    "label_wrong", "label_neutral", "label_right", "save_annotation", "edit", "commit_rewrite", "regenerate",
    "regenerate_with_note", "continue_after", "challenge", "ask", "delete_branch", "previous_alternative",
    "next_alternative", "prefer", "compare",
)
#: Actions that start the model.
MODEL_ACTIONS = ("generate", "regenerate", "regenerate_with_note", "continue_after", "challenge", "ask")


def create_actions(window: QWidget, handlers: dict[str, Any]) -> dict[str, QAction]:
    """One QAction per row of ACTIONS on `window`, triggering `handlers[name]`."""
    actions: dict[str, QAction] = {}
    for name, text, keys, tip in ACTIONS:
        action = QAction(text, window)
        action.setObjectName(name)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setToolTip(tip + (f" ({', '.join(keys)})" if keys else ""))
        action.setStatusTip(tip)
        action.triggered.connect(handlers[name])
        window.addAction(action)
        actions[name] = action
    actions["delete_session"].setEnabled(False)  # until a session is open
    # Ctrl+Enter belongs to the editor that has focus (question: generate; rewrite: save).
    actions["commit_rewrite"].setShortcuts([])
    return actions


def scrolled(widget: QWidget) -> QScrollArea:
    """`widget` in a frameless scroll area that resizes it."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


def build_central(window: MainWindow) -> None:
    """The message bar, the question area and the tree beside the inspector."""
    window.messages = MessageBar()
    window.question = QPlainTextEdit()
    window.question.setObjectName("questionEditor")
    window.question.setPlaceholderText("Ask the model a question to reason about… (Ctrl+Enter or Ctrl+G generates)")
    window.question.setMaximumHeight(84)
    window.template = QComboBox()
    window.template.setObjectName("templatePicker")
    window.template.setToolTip("The prompt template: how the model is asked to reason")
    for keys in ("Ctrl+Return", "Ctrl+Enter"):
        shortcut = QShortcut(QKeySequence(keys), window.question)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(window.generate)
    buttons = QVBoxLayout()
    buttons.addWidget(window.template)
    for name in ("generate", "stop"):
        button = QToolButton()
        button.setDefaultAction(window.actions[name])
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        buttons.addWidget(button)
    buttons.addStretch(1)
    question_area = QWidget()
    question_layout = QHBoxLayout(question_area)
    question_layout.setContentsMargins(0, 0, 0, 0)
    question_layout.addWidget(window.question, 1)
    question_layout.addLayout(buttons)

    window.tree_model = ReasoningTreeModel(window)
    window.tree_view = QTreeView()
    window.tree_view.setObjectName("reasoningTree")
    window.tree_view.setModel(window.tree_model)
    window.tree_view.setUniformRowHeights(True)
    window.tree_view.setAlternatingRowColors(True)
    window.tree_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    window.tree_view.setItemDelegateForColumn(COL_CONFIDENCE, ConfidenceDelegate(window.tree_view))
    header = window.tree_view.header()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(COL_STEP, QHeaderView.ResizeMode.Stretch)
    for column, width in ((COL_LABEL, 90), (COL_FLAGS, 100), (COL_CONFIDENCE, 115), (COL_ALTERNATIVES, 90)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(column, width)
    window.tree_view.selectionModel().currentChanged.connect(window._on_current_changed)
    window.tree_model.rowsInserted.connect(window._on_rows_inserted)

    window.inspector = StepInspector(window.actions)
    window.inspector.setObjectName("inspector")
    window.inspector.commit_rewrite.connect(window.rewrite)

    window.main_split = QSplitter(Qt.Orientation.Horizontal)
    window.main_split.setObjectName("mainSplit")
    window.main_split.addWidget(window.tree_view)
    # Not in a scroll area: one would size it by its word-wrapped labels' preferred height
    # (taller than most screens); its minimum (about 430 x 500) fits a laptop screen.
    window.main_split.addWidget(window.inspector)
    window.main_split.setCollapsible(1, False)
    window.main_split.setStretchFactor(0, 3)
    window.main_split.setStretchFactor(1, 2)
    window.main_split.setSizes([700, 520])
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(window.messages)
    layout.addWidget(question_area)
    layout.addWidget(window.main_split, 1)
    window.setCentralWidget(central)

def build_docks(window: MainWindow) -> None:
    """The Sessions and Model docks, tabbed on the left."""
    window.sessions = SessionsPanel(window.actions)
    window.sessions.search_changed.connect(window.search)
    window.sessions.open_requested.connect(window.open_session)
    window.sessions_dock = QDockWidget("Sessions", window)
    window.sessions_dock.setObjectName("sessionsDock")
    window.sessions_dock.setWidget(window.sessions)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, window.sessions_dock)
    window.model_panel = ModelPanel(window.actions["load_model"])
    window.model_panel.value_changed.connect(window._on_value_changed)
    dock = QDockWidget("Model", window)
    dock.setObjectName("modelDock")
    dock.setWidget(scrolled(window.model_panel))
    window.model_dock = dock
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    window.tabifyDockWidget(window.sessions_dock, dock)
    window.sessions_dock.raise_()
    window.resizeDocks([window.sessions_dock], [240], Qt.Orientation.Horizontal)  # until a saved layout

def build_menus(window: MainWindow) -> None:
    """The menu bar, from the window's actions."""
    menus = (
        ("&File", ("new_session", "rename_session", "delete_session", None, "settings", None, "quit")),
        ("&Edit", ("undo", "redo", None, "search")),
        ("&Review", ("generate", "stop", None, "label_wrong", "label_neutral", "label_right", "save_annotation",
                     None, "edit", "commit_rewrite", None, "regenerate", "regenerate_with_note", "continue_after",
                     "challenge", "ask", None, "delete_branch")),
        ("&Branches", ("previous_alternative", "next_alternative", "prefer", "compare")),
        ("&View", ("focus_tree", "focus_question")),
        ("&Model", ("load_model",)),
        ("&Help", ("help",)),
    )
    for title, names in menus:
        menu = window.menuBar().addMenu(title)
        for name in names:
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(window.actions[name])
    view = window.menuBar().actions()[4].menu()
    view.addSeparator()
    view.addAction(window.sessions_dock.toggleViewAction())
    view.addAction(window.model_dock.toggleViewAction())

def build_status(window: MainWindow) -> None:
    """The status bar's permanent labels: model, device, context, speed, database."""
    window.model_status = QLabel("Model: looking…")
    window.device_status = QLabel("")
    window.context_status = QLabel("")
    window.speed_status = QLabel("")
    window.db_status = QLabel(f"Database: {window.db_path}")
    for name, label in (("modelStatus", window.model_status), ("deviceStatus", window.device_status),
                        ("contextStatus", window.context_status), ("speedStatus", window.speed_status),
                        ("dbStatus", window.db_status)):
        label.setObjectName(name)
        label.setTextFormat(Qt.TextFormat.PlainText)
        window.statusBar().addPermanentWidget(label)
