"""Which pages each role sees. The entry script builds st.navigation from this list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from review_queue.permissions import ADMIN_ONLY, EVERYONE
from review_queue.tables import Role

PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"


@dataclass(frozen=True)
class PageSpec:
    """One page of the app and the roles that may open it."""

    file: str
    title: str
    icon: str
    roles: tuple[Role, ...]
    url_path: str
    section: str = "Gapdesk"

    @property
    def path(self) -> Path:
        """The page's script."""
        return PAGES_DIR / self.file


ADMINS_AND_MANAGERS = (Role.admin, Role.manager)
ADMIN = "Administration"

PAGES: tuple[PageSpec, ...] = (
    PageSpec("home.py", "Home", ":material/home:", EVERYONE, "home"),
    PageSpec("queue.py", "Review queue", ":material/checklist:", ADMIN_ONLY, "queue"),
    PageSpec(
        "learner_report.py", "Report a problem", ":material/report:", (Role.instructor,), "report"
    ),
    PageSpec("trends.py", "Trends", ":material/insights:", ADMINS_AND_MANAGERS, "trends"),
    PageSpec(
        "feedback_log.py",
        "Feedback log",
        ":material/history:",
        ADMINS_AND_MANAGERS,
        "feedback-log",
    ),
    PageSpec("api_tokens.py", "API tokens", ":material/key:", EVERYONE, "api-tokens"),
    PageSpec(
        "notifications.py", "Notifications", ":material/notifications:", EVERYONE, "notifications"
    ),
    PageSpec(
        "admin/work_lists.py",
        "Work lists",
        ":material/assignment:",
        ADMIN_ONLY,
        "work-lists",
        ADMIN,
    ),
    PageSpec("admin/detectors.py", "Detectors", ":material/radar:", ADMIN_ONLY, "detectors", ADMIN),
    PageSpec("admin/models.py", "Models", ":material/model_training:", ADMIN_ONLY, "models", ADMIN),
    PageSpec("admin/data.py", "Data", ":material/database:", ADMIN_ONLY, "data", ADMIN),
    PageSpec("admin/users.py", "Users", ":material/group:", ADMIN_ONLY, "users", ADMIN),
    PageSpec("admin/webhooks.py", "Webhooks", ":material/webhook:", ADMIN_ONLY, "webhooks", ADMIN),
)

SIGN_IN = PageSpec("sign_in.py", "Sign in", ":material/login:", (), "sign-in")


def pages_for(role: Role) -> list[PageSpec]:
    """The pages a person with ``role`` may open, in menu order."""
    return [p for p in PAGES if role in p.roles]
